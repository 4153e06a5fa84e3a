import { createRemoteJWKSet, decodeProtectedHeader, jwtVerify } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type SoftHsm, startSoftHsm } from '../peers/softhsm.js';
import { type RunningIssuer, startIssuer } from './harness.js';

/** The real `wfid serve` signing in SoftHSM2 through a pkcs11: URI; jose verifies from outside. */
describe.each(['ES256', 'PS256'] as const)('issuer end to end with a pkcs11 key (%s)', (alg) => {
  let hsm: SoftHsm;
  let issuer: RunningIssuer;

  beforeAll(async () => {
    hsm = await startSoftHsm(['wfid']);
    const pinSource = `file:${await hsm.pinFile('wfid')}`;
    issuer = await startIssuer({
      env: {
        ...hsm.env,
        WFID_KEYS: hsm.uri('wfid', 'wfid-signing', { 'pin-source': pinSource }),
        WFID_ALG: alg,
      },
    });
  });
  afterAll(async () => {
    await issuer?.stop();
    await hsm?.stop();
  });

  it('mints tokens an outside verifier accepts through the JWKS', async () => {
    const jwks = createRemoteJWKSet(new URL(`${issuer.url}/.well-known/jwks.json`));
    const execution = await issuer.startExecution({ workflow_id: 'wf-1' });
    const { value } = await issuer.mint(execution.request_token, 'my-audience');
    const { payload, protectedHeader } = await jwtVerify(value, jwks, {
      issuer: issuer.url,
      audience: 'my-audience',
    });
    expect(protectedHeader.alg).toBe(alg);
    expect(payload.workflow_id).toBe('wf-1');
    expect(payload.sub).toBe('workflow:wf-1');
    // Every token carries a kid the JWKS publishes.
    const response = await issuer.fetch('/.well-known/jwks.json');
    const { keys } = (await response.json()) as { keys: { kid: string; alg: string }[] };
    expect(keys.map((key) => key.kid)).toContain(decodeProtectedHeader(value).kid);
  });

  it('never logs the PIN', async () => {
    expect(issuer.logs()).not.toContain(hsm.token('wfid').pin);
  });
});
