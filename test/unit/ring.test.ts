import { randomBytes } from 'node:crypto';
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { isWfidError } from '../../src/errors.js';
import { verifySignature } from '../../src/jws/compact.js';
import { KeyRing } from '../../src/keys/ring.js';
import { fakeBackend } from './fake-backend.js';

const logger = pino({ level: 'silent' });

const fakeRemote = (keyCount = 2) => fakeBackend({ keyCount });

describe('KeyRing', () => {
  it('publishes every enabled version, signs with the newest, and names keys by thumbprint', async () => {
    const { backend } = fakeRemote(2);
    const ring = new KeyRing(backend, { logger });
    await ring.refresh();
    expect(ring.publishedKeys()).toHaveLength(2);
    expect(ring.signingKey().backendKey.ref).toBe('key-1');
    expect(ring.signingKey().kid).toMatch(/^[A-Za-z0-9_-]{43}$/);
    const jwks = JSON.parse(ring.jwks().body);
    expect(jwks.keys.map((key: { kid: string }) => key.kid)).toContain(ring.signingKey().kid);
  });

  it('refuses a remote signature made by another key version (never lets it out)', async () => {
    const { backend, state } = fakeRemote(2);
    const ring = new KeyRing(backend, { logger });
    await ring.refresh();
    state.signWith = 0; // the backend signs with the older version than the one asked for
    const error = await ring.sign(randomBytes(32)).catch((err) => err);
    expect(isWfidError(error, 'ERR_SIGNATURE_MISMATCH')).toBe(true);
  });

  it('drops a version disabled outside at the next refresh and signs with the next newest', async () => {
    const { backend, pairs } = fakeRemote(2);
    const ring = new KeyRing(backend, { logger });
    await ring.refresh();
    pairs[1]!.enabled = false;
    await ring.refresh();
    expect(ring.signingKey().backendKey.ref).toBe('key-0');
    expect(ring.publishedKeys()).toHaveLength(1);
    const input = randomBytes(16);
    expect(verifySignature('ES256', pairs[0]!.publicKey, input, await ring.sign(input))).toBe(true);
  });

  it('keeps the last good view when the backend cannot be listed, and reports not ready', async () => {
    const { backend, state } = fakeRemote(1);
    const ring = new KeyRing(backend, { logger });
    await ring.refresh();
    const kid = ring.signingKey().kid;
    state.failList = true;
    await expect(ring.refresh()).rejects.toThrow('unreachable');
    expect(ring.signingKey().kid).toBe(kid);
    expect(ring.health().ready).toBe(false);
    state.failList = false;
    await ring.refresh();
    expect(ring.health()).toEqual({ ready: true });
  });

  it('answers ERR_NO_SIGNING_KEY when the backend holds no enabled version', async () => {
    const { backend, pairs } = fakeRemote(1);
    pairs[0]!.enabled = false;
    const ring = new KeyRing(backend, { logger });
    await ring.refresh();
    expect(() => ring.signingKey()).toThrowError(
      expect.objectContaining({ code: 'ERR_NO_SIGNING_KEY' }),
    );
    expect(JSON.parse(ring.jwks().body)).toEqual({ keys: [] });
  });

  it('checks a local backend key pair once at load instead of per signature', async () => {
    const { backend, state } = fakeBackend({ keyCount: 1, signsLocally: true });
    const ring = new KeyRing(backend, { logger });
    await ring.refresh();
    expect(state.calls).toBe(1); // the proof at load
    await ring.refresh();
    expect(state.calls).toBe(1); // proven kids are not proven again
  });
});
