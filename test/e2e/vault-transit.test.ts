/**
 * The issuer signing with OpenBao Transit, seen from outside: tokens verified through the
 * remote JWKS, a rotation made in OpenBao reaching the JWKS, and a sealed OpenBao answered
 * with 503 on /v1/token and /readyz until it is unsealed.
 */
import { createRemoteJWKSet, jwtVerify } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type OpenBao, startOpenBao } from '../peers/openbao.js';
import { expectOutsideVersionPublished, expectUnavailable } from './checks.js';
import { type RunningIssuer, startIssuer, until } from './harness.js';

let bao: OpenBao;
let issuer: RunningIssuer;

beforeAll(async () => {
  bao = await startOpenBao();
  await bao.api('POST', 'sys/mounts/transit', { type: 'transit' });
  issuer = await startIssuer({
    env: {
      WFID_KEYS: 'hashivault://wfid',
      WFID_ALG: 'ES384',
      WFID_KEYS_REFRESH: '1s',
      BAO_ADDR: bao.address,
      BAO_TOKEN: bao.rootToken,
    },
  });
}, 120_000);

afterAll(async () => {
  await issuer?.stop();
  await bao?.close();
});

describe('issuer on vault-transit', () => {
  it('created the Transit key on first start and mints tokens an outside verifier accepts', async () => {
    const key = await bao.api<{ data: { type: string; latest_version: number } }>(
      'GET',
      'transit/keys/wfid',
    );
    expect(key.data.type).toBe('ecdsa-p384');
    const execution = await issuer.startExecution({ workflow_id: 'wf-transit' });
    const { value } = await issuer.mint(execution.request_token, 'https://verifier.example');
    const jwks = createRemoteJWKSet(new URL(`${issuer.url}/.well-known/jwks.json`));
    const { payload, protectedHeader } = await jwtVerify(value, jwks, {
      issuer: issuer.url,
      audience: 'https://verifier.example',
    });
    expect(protectedHeader.alg).toBe('ES384');
    expect(payload.workflow_id).toBe('wf-transit');
  });

  it('a rotation in OpenBao reaches the JWKS; tokens signed by the older version keep verifying', async () => {
    await expectOutsideVersionPublished(issuer, () => bao.api('POST', 'transit/keys/wfid/rotate'));
  });

  it('sealed: /v1/token answers 503 with Retry-After and /readyz 503; unsealed, both recover', async () => {
    const execution = await issuer.startExecution({ workflow_id: 'wf-sealed' });
    await bao.seal();
    try {
      const body = await expectUnavailable(
        await issuer.mintResponse(execution.request_token, 'aud'),
      );
      expect(JSON.stringify(body)).not.toContain(bao.rootToken);
      await until(async () => (await issuer.fetch('/readyz')).status === 503);
      // Publicly only ready or not: no Vault address, mount or key path; the detail is logged.
      expect(await (await issuer.fetch('/readyz')).json()).toEqual({
        status: 'not_ready',
        keys: { ready: false },
        store: { ready: true },
      });
      await until(async () => /"component":"keys","reason":"key backend: /.test(issuer.logs()));
    } finally {
      await bao.unseal();
    }
    await until(async () => (await issuer.fetch('/readyz')).status === 200);
    const { value } = await issuer.mint(execution.request_token, 'aud');
    const jwks = createRemoteJWKSet(new URL(`${issuer.url}/.well-known/jwks.json`));
    expect((await jwtVerify(value, jwks)).payload.workflow_id).toBe('wf-sealed');
    expect(issuer.logs()).not.toContain(bao.rootToken);
  }, 60_000);
});
