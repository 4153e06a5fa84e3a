import { createRemoteJWKSet, decodeProtectedHeader, jwtVerify } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningIssuer, startIssuer } from './harness.js';

const PREPUBLISH_MS = 3000;
const POLL_MS = 200;

/**
 * Rotation in real time with short periods, through the HTTP server, verified by an outside
 * verifier that caches the JWKS for its Cache-Control max-age as real verifiers do.
 */
describe('rotation end to end (real time, seconds)', () => {
  let issuer: RunningIssuer;

  beforeAll(async () => {
    issuer = await startIssuer({
      env: {
        WFID_ROTATION_EVERY: '8s',
        WFID_ROTATION_PREPUBLISH: '3s',
        WFID_ROTATION_CLOCK_SKEW: '1s',
        WFID_JWKS_MAX_AGE: '1s',
        WFID_KEYS_REFRESH: '1s',
        WFID_TOKENS_LIFETIME: '5s',
        WFID_TOKENS_MAX_LIFETIME: '5s',
        WFID_TOKENS_RATE_LIMIT: '0',
      },
    });
  });
  afterAll(async () => issuer?.stop());

  it('every token verifies across rotations; each new kid is published a full lead time before it signs', async () => {
    const verifier = createRemoteJWKSet(new URL(`${issuer.url}/.well-known/jwks.json`), {
      cacheMaxAge: 1000,
    });
    const execution = await issuer.startExecution({ max_duration_s: 120 });
    const firstSeen = new Map<string, number>();
    const firstSigned = new Map<string, number>();
    const issued: { token: string; at: number }[] = [];
    const failures: string[] = [];

    const started = Date.now();
    let nextPoll = 0;
    while (Date.now() - started < 20_000) {
      const now = Date.now();
      if (now >= nextPoll) {
        const jwks = (await (await issuer.fetch('/.well-known/jwks.json')).json()) as {
          keys: { kid: string }[];
        };
        for (const { kid } of jwks.keys) if (!firstSeen.has(kid)) firstSeen.set(kid, Date.now());
        nextPoll = now + POLL_MS;
      }
      const { value } = await issuer.mint(execution.request_token, 'rotation-test');
      const mintedAt = Date.now();
      const { kid } = decodeProtectedHeader(value);
      if (!firstSigned.has(kid!)) firstSigned.set(kid!, mintedAt);
      issued.push({ token: value, at: mintedAt });
      await jwtVerify(value, verifier, { audience: 'rotation-test' }).catch((err) =>
        failures.push(`${kid}: ${err.code}`),
      );
      // Tokens signed by the previous key keep verifying while they are valid.
      const older = issued.find((item) => mintedAt - item.at > 1500 && mintedAt - item.at < 2500);
      if (older)
        await jwtVerify(older.token, verifier, { audience: 'rotation-test' }).catch((err) =>
          failures.push(`older: ${err.code}`),
        );
      await new Promise((done) => setTimeout(done, 100));
    }

    expect(failures).toEqual([]);
    const kids = [...firstSigned.keys()];
    expect(kids.length).toBeGreaterThanOrEqual(2);
    for (const kid of kids.slice(1)) {
      // firstSeen is polled, so it can be up to one poll late: allow exactly that.
      expect(firstSigned.get(kid)! - firstSeen.get(kid)!).toBeGreaterThanOrEqual(
        PREPUBLISH_MS - POLL_MS,
      );
    }
    // The first key has been retired (its tokens all expired) and left the JWKS.
    const jwks = (await (await issuer.fetch('/.well-known/jwks.json')).json()) as {
      keys: { kid: string }[];
    };
    expect(jwks.keys.map((key) => key.kid)).not.toContain(kids[0]);
  }, 40_000);
});
