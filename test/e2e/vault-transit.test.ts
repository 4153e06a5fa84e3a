/**
 * The issuer signing with OpenBao Transit, seen from outside: tokens verified through the
 * remote JWKS, a rotation made in OpenBao reaching the JWKS, and a sealed OpenBao answered
 * with 503 on /v1/token and /readyz until it is unsealed.
 */
import { createRemoteJWKSet, decodeProtectedHeader, jwtVerify } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type OpenBao, startOpenBao } from '../peers/openbao.js';
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
    const execution = await issuer.startExecution({ workflow_id: 'wf-rotate' });
    const before = (await issuer.mint(execution.request_token, 'aud')).value;
    const oldKid = decodeProtectedHeader(before).kid;
    await bao.api('POST', 'transit/keys/wfid/rotate');
    await until(async () => (await issuer.jwksKids()).length === 2);
    expect(await issuer.jwksKids()).toContain(oldKid);
    const jwks = createRemoteJWKSet(new URL(`${issuer.url}/.well-known/jwks.json`));
    expect((await jwtVerify(before, jwks)).payload.workflow_id).toBe('wf-rotate');
    const after = (await issuer.mint(execution.request_token, 'aud')).value;
    expect((await jwtVerify(after, jwks)).payload.workflow_id).toBe('wf-rotate');
  });

  it('sealed: /v1/token answers 503 with Retry-After and /readyz 503; unsealed, both recover', async () => {
    const execution = await issuer.startExecution({ workflow_id: 'wf-sealed' });
    await bao.seal();
    try {
      const response = await issuer.mintResponse(execution.request_token, 'aud');
      expect(response.status).toBe(503);
      expect(Number(response.headers.get('retry-after'))).toBeGreaterThan(0);
      const body = (await response.json()) as Record<string, unknown>;
      expect(body.error).toBe('temporarily_unavailable');
      expect(JSON.stringify(body)).not.toContain(bao.rootToken);
      await until(async () => (await issuer.fetch('/readyz')).status === 503);
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
