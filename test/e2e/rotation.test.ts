import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createRemoteJWKSet, decodeProtectedHeader, jwtVerify } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FileBackend } from '../../backends/file/index.js';
import { type RunningIssuer, startIssuer, until } from './harness.js';

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

describe('rotation state survives a hard kill (SIGKILL) and restart', () => {
  it('keeps the pending key pending and the same key signing after the restart', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'wfid-e2e-kill-'));
    const env = {
      WFID_KEYS_REFRESH: '1s',
      WFID_JWKS_MAX_AGE: '10s',
      WFID_ROTATION_PREPUBLISH: '1h',
    };
    const first = await startIssuer({ dataDir, env });
    const execution = await first.startExecution();
    const signingKid = decodeProtectedHeader(
      (await first.mint(execution.request_token, 'a')).value,
    ).kid;
    // A security team adds a version: it is published (pending) and must not sign for an hour.
    await new FileBackend(join(dataDir, 'keys'), 'ES256').createKey();
    await until(async () => (await first.jwksKids()).length === 2);
    const published = (await first.jwksKids()).sort();
    first.process.kill('SIGKILL');
    await new Promise((done) => first.process.once('exit', done));

    const second = await startIssuer({ dataDir, env });
    try {
      expect((await second.jwksKids()).sort()).toEqual(published);
      const again = await second.startExecution();
      const { value } = await second.mint(again.request_token, 'a');
      expect(decodeProtectedHeader(value).kid).toBe(signingKid);
    } finally {
      await second.stop();
      await rm(dataDir, { recursive: true, force: true });
    }
  }, 60_000);
});
