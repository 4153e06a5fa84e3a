/**
 * POST /v1/introspect of the real `wfid serve` against crafted tokens, many signed with the
 * issuer's own key (read from its key directory, as an attacker who stole nothing could not,
 * but as the sharpest test of the rules after the signature), and property-based junk.
 */
import { createPrivateKey, type KeyObject } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { base64url } from '../../src/jws/base64url.js';
import { signLocal } from '../../src/jws/compact.js';
import { junkToken, mutationOf, respellTrailingBits } from '../unit/token-arbitraries.js';
import { type RunningIssuer, startIssuer } from './harness.js';

describe('introspection (RFC 7662) of crafted tokens, through the real server', () => {
  let issuer: RunningIssuer;
  let key: KeyObject;
  let good: string;
  let header: Record<string, unknown>;
  let claims: Record<string, unknown>;

  beforeAll(async () => {
    issuer = await startIssuer({ env: { WFID_TOKENS_EXTRA_CLAIMS: 'team' } });
    const keyDir = join(issuer.dataDir, 'keys');
    const pem = (await readdir(keyDir)).find((name) => name.endsWith('.ES256.pem'))!;
    key = createPrivateKey(await readFile(join(keyDir, pem), 'utf8'));
    const started = await issuer.startExecution({ claims: { team: 'data' } });
    good = (await issuer.mint(started.request_token, 'aud')).value;
    const [h, p] = good.split('.') as [string, string];
    header = JSON.parse(Buffer.from(h, 'base64url').toString());
    claims = JSON.parse(Buffer.from(p, 'base64url').toString());
  });
  afterAll(async () => issuer?.stop());

  /** A token signed with the issuer's own signing key. */
  const signed = (h: Record<string, unknown>, c: Record<string, unknown>) => {
    const input = `${base64url(JSON.stringify(h))}.${base64url(JSON.stringify(c))}`;
    return `${input}.${base64url(signLocal('ES256', key, Buffer.from(input)))}`;
  };

  const post = (body: string, contentType = 'application/x-www-form-urlencoded') =>
    issuer.fetch('/v1/introspect', {
      method: 'POST',
      headers: { 'content-type': contentType },
      body,
    });
  const introspect = async (token: string) => {
    const response = await post(new URLSearchParams({ token }).toString());
    expect(response.status).toBe(200);
    return (await response.json()) as Record<string, unknown>;
  };

  it('answers active for the minted token and for one signed alike by the test (the baseline)', async () => {
    expect(await introspect(good)).toMatchObject({ active: true, execution_status: 'running' });
    expect(await introspect(signed(header, claims))).toMatchObject({ active: true });
  });

  it('is inactive with a crit header, and with b64 false, although validly signed', async () => {
    expect(await introspect(signed({ ...header, crit: ['exp'], exp: 1 }, claims))).toEqual({
      active: false,
    });
    expect(await introspect(signed({ ...header, b64: false, crit: ['b64'] }, claims))).toEqual({
      active: false,
    });
    expect(await introspect(signed({ ...header, b64: false }, claims))).toEqual({ active: false });
  });

  it('is inactive from exp on: expired by 1 s, and at exp itself (no leeway in its own answer)', async () => {
    const now = Math.floor(Date.now() / 1000);
    expect(await introspect(signed(header, { ...claims, exp: now - 1 }))).toEqual({
      active: false,
    });
    // exp = the current second: the request arrives at or after it, so it can only be inactive.
    expect(await introspect(signed(header, { ...claims, exp: now }))).toEqual({ active: false });
    expect(await introspect(signed(header, { ...claims, nbf: now + 60 }))).toEqual({
      active: false,
    });
  });

  it('is inactive when the signature is re-spelled: other unused trailing bits, + and /, padding', async () => {
    for (let bits = 1; bits < 16; bits++) {
      expect(await introspect(respellTrailingBits(good, 2, bits)!)).toEqual({ active: false });
    }
    let token = good;
    while (!/[-_]/.test(token.split('.')[2]!)) token = signed(header, claims);
    expect(await introspect(token.replaceAll('-', '+').replaceAll('_', '/'))).toEqual({
      active: false,
    });
    expect(await introspect(`${good}=`)).toEqual({ active: false });
  });

  it('keeps active and execution_status its own, whatever claims a token carries', async () => {
    const answer = await introspect(
      signed(header, { ...claims, active: false, execution_status: 'success', scope: 'admin' }),
    );
    expect(answer).toMatchObject({ active: true, execution_status: 'running', team: 'data' });
    expect(answer).not.toHaveProperty('scope');
  });

  it('refuses to start with a reserved name in tokens.extra_claims, naming the key', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'wfid-e2e-reserved-'));
    try {
      await expect(
        startIssuer({ dataDir, env: { WFID_TOKENS_EXTRA_CLAIMS: 'team,active' } }),
      ).rejects.toThrow(
        /tokens\.extra_claims\.1 \(WFID_TOKENS_EXTRA_CLAIMS\): "active" is reserved/,
      );
    } finally {
      await rm(dataDir, { recursive: true, force: true });
    }
  });

  describe('properties', () => {
    it('no mutation of a valid token is ever active', async () => {
      await fc.assert(
        fc.asyncProperty(mutationOf(good), async (mutated) => {
          expect(await introspect(mutated)).toEqual({ active: false });
        }),
        { numRuns: 400 },
      );
    });

    it('junk tokens and crafted headers are inactive, never a 5xx', async () => {
      const kid = String(header.kid);
      await fc.assert(
        fc.asyncProperty(junkToken([kid]), async (junk) => {
          expect(await introspect(junk)).toEqual({ active: false });
        }),
        { numRuns: 300 },
      );
    });

    it('any request body, under any content type, answers below 500 and never active', async () => {
      const body = fc.oneof(
        fc.string({ maxLength: 2000 }),
        fc.jsonValue().map((value) => JSON.stringify(value)),
        fc
          .dictionary(fc.string(), fc.jsonValue())
          .map((value) => JSON.stringify({ ...value, token: good.slice(1) })),
        mutationOf(good).map((token) => `token=${token}`),
      );
      const type = fc.constantFrom(
        'application/json',
        'application/x-www-form-urlencoded',
        'text/plain',
        'application/jwt',
        'multipart/form-data',
      );
      await fc.assert(
        fc.asyncProperty(body, type, async (text, contentType) => {
          const response = await post(text, contentType);
          expect(response.status).toBeLessThan(500);
          const answer = (await response.json()) as Record<string, unknown>;
          expect(answer.active).not.toBe(true);
        }),
        { numRuns: 300 },
      );
    });

    it('is still up and still answers the valid token active afterwards', async () => {
      expect(issuer.process.exitCode).toBeNull();
      expect(await introspect(good)).toMatchObject({ active: true });
      expect(issuer.logs()).not.toMatch(/"level":(50|60)/);
    });
  });
});
