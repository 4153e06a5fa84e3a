import { createRemoteJWKSet, decodeProtectedHeader, jwtVerify } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type LocalStack, type LocalStackKey, startLocalStack } from '../peers/localstack.js';
import { expectUnavailable } from './checks.js';
import { type RunningIssuer, startIssuer } from './harness.js';

/**
 * The real `wfid serve` signing with a key in (LocalStack's) KMS through an awskms:// URI, as
 * a read-only signer: the key and alias are made outside, as a security team would.
 */
describe('issuer end to end with an AWS KMS key (LocalStack)', () => {
  const alias = `alias/wfid-e2e-${process.pid}`;
  let localstack: LocalStack;
  let key: LocalStackKey;
  let issuer: RunningIssuer;

  beforeAll(async () => {
    localstack = await startLocalStack();
    key = await localstack.createKey({ keySpec: 'ECC_NIST_P256', restorable: true });
    await localstack.createAlias(alias, key.keyId);
    issuer = await startIssuer({
      env: {
        ...localstack.env,
        WFID_KEYS: localstack.uri(alias),
        WFID_ALG: 'ES256',
        WFID_KEYS_REFRESH: '1s',
        WFID_AWS_KMS_DISCOVERY: 'none',
        WFID_AWS_KMS_RETRIES: '1',
        WFID_AWS_KMS_RETRY_BACKOFF: '50ms',
        WFID_AWS_KMS_RETRY_MAX_BACKOFF: '1s',
        WFID_AWS_KMS_TIMEOUT: '2s',
      },
    });
  }, 120_000);
  afterAll(async () => {
    await issuer?.stop();
    await localstack?.close();
  });

  const jwks = () => createRemoteJWKSet(new URL(`${issuer.url}/.well-known/jwks.json`));

  it('mints tokens an outside verifier accepts through the JWKS', async () => {
    const execution = await issuer.startExecution({ workflow_id: 'wf-1' });
    const { value } = await issuer.mint(execution.request_token, 'sts.amazonaws.com');
    const { payload, protectedHeader } = await jwtVerify(value, jwks(), {
      issuer: issuer.url,
      audience: 'sts.amazonaws.com',
    });
    expect(protectedHeader.alg).toBe('ES256');
    expect(payload.sub).toBe('workflow:wf-1');
    // The kid is the JWK thumbprint, never the key ARN.
    expect(protectedHeader.kid).not.toContain('arn:');
    expect(issuer.logs()).not.toContain(execution.request_token);
  });

  it('answers 503 with Retry-After while KMS is down, signs nothing, and recovers when it returns', async () => {
    const execution = await issuer.startExecution({ workflow_id: 'wf-outage' });
    const before = await issuer.mint(execution.request_token, 'aud');
    const kid = decodeProtectedHeader(before.value).kid;

    await localstack.stop();
    await expectUnavailable(await issuer.mintResponse(execution.request_token, 'aud'));
    // The next key listing fails too, and /readyz says so.
    await expect
      .poll(async () => (await issuer.fetch('/readyz')).status, { timeout: 10_000 })
      .toBe(503);

    // Back with the same key and alias (the peer restores them before it lets clients in).
    await localstack.start();
    await expect
      .poll(async () => (await issuer.fetch('/readyz')).status, { timeout: 15_000 })
      .toBe(200);
    const after = await issuer.mint(execution.request_token, 'aud');
    expect(decodeProtectedHeader(after.value).kid).toBe(kid);
    await jwtVerify(after.value, jwks(), { issuer: issuer.url, audience: 'aud' });
  }, 90_000);
});
