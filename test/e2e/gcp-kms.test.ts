/**
 * The issuer signing with Cloud KMS (the gRPC stand-in speaking the real protos), seen from
 * outside: tokens verified through the remote JWKS by jose, a CryptoKeyVersion made by the
 * security team reaching the JWKS, and KMS down answered with 503 until it is back.
 */
import { createRemoteJWKSet, jwtVerify } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type GcpKmsPeer, startGcpKms, waitEnabled } from '../peers/gcp-kms.js';
import { expectOutsideVersionPublished, expectUnavailable } from './checks.js';
import { type RunningIssuer, startIssuer, until } from './harness.js';

let kms: GcpKmsPeer;
let cryptoKey: string;
let issuer: RunningIssuer;

beforeAll(async () => {
  kms = await startGcpKms();
  cryptoKey = await kms.createCryptoKey('EC_SIGN_P256_SHA256');
  issuer = await startIssuer({
    env: {
      WFID_KEYS: `gcpkms://${cryptoKey}`,
      WFID_KEYS_REFRESH: '1s',
      WFID_GCP_KMS_RETRIES: '1',
      WFID_GCP_KMS_RETRY_BACKOFF: '50ms',
      WFID_GCP_KMS_RETRY_MAX_BACKOFF: '200ms',
      ...kms.env,
    },
  });
}, 120_000);

afterAll(async () => {
  await issuer?.stop();
  await kms?.close();
});

describe('issuer on gcp-kms', () => {
  it('mints tokens signed in Cloud KMS that an outside verifier accepts through the JWKS', async () => {
    const before = await kms.calls('AsymmetricSign');
    const execution = await issuer.startExecution({ workflow_id: 'wf-gcp' });
    const { value } = await issuer.mint(execution.request_token, 'https://verifier.example');
    const jwks = createRemoteJWKSet(new URL(`${issuer.url}/.well-known/jwks.json`));
    const { payload, protectedHeader } = await jwtVerify(value, jwks, {
      issuer: issuer.url,
      audience: 'https://verifier.example',
    });
    expect(protectedHeader.alg).toBe('ES256');
    expect(payload.workflow_id).toBe('wf-gcp');
    expect(await kms.calls('AsymmetricSign')).toBeGreaterThan(before);
    // The kid is a thumbprint: the JWKS names no project, key ring or key.
    const published = await (await issuer.fetch('/.well-known/jwks.json')).text();
    expect(published).not.toContain('projects/');
  });

  it('a version made by the security team reaches the JWKS; older tokens keep verifying', async () => {
    await expectOutsideVersionPublished(issuer, async () => {
      const [version] = await kms
        .client()
        .createCryptoKeyVersion({ parent: cryptoKey, cryptoKeyVersion: {} });
      await waitEnabled(kms.client(), version.name!);
    });
  });

  it('KMS down: /v1/token answers 503 with Retry-After; back up, tokens flow again', async () => {
    const execution = await issuer.startExecution({ workflow_id: 'wf-outage' });
    await kms.stop();
    try {
      await expectUnavailable(await issuer.mintResponse(execution.request_token, 'aud'));
    } finally {
      await kms.start();
    }
    const jwks = createRemoteJWKSet(new URL(`${issuer.url}/.well-known/jwks.json`));
    let token: string | undefined;
    await until(async () => {
      token = (await issuer.mint(execution.request_token, 'aud').catch(() => undefined))?.value;
      return token !== undefined;
    });
    expect((await jwtVerify(token!, jwks)).payload.workflow_id).toBe('wf-outage');
  }, 60_000);
});
