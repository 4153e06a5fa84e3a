/**
 * The one in-memory key backend of the unit tests (a fake for our own logic only: every real
 * backend is tested against its real server in test/backends). ES256 key pairs made in memory.
 */
import { generateKeyPairSync } from 'node:crypto';
import pino from 'pino';
import { signLocal } from '../../src/jws/compact.js';
import type { BackendKey, KeyBackend } from '../../src/keys/backend.js';
import { KeyRing } from '../../src/keys/ring.js';

export interface FakeBackendOptions {
  keyCount?: number;
  /** Like the file backend: the ring proves each pair once instead of checking every signature. */
  signsLocally?: boolean;
}

/**
 * `keyCount` versions `key-<i>`, created on consecutive days of 2026, all enabled. `state` makes
 * it misbehave: sign with another version (`signWith`), fail every listing (`failList`).
 */
export function fakeBackend(options: FakeBackendOptions = {}) {
  const pairs = Array.from({ length: options.keyCount ?? 2 }, (_, index) => ({
    ...generateKeyPairSync('ec', { namedCurve: 'P-256' }),
    createdAt: new Date(Date.UTC(2026, 0, index + 1)),
    enabled: true,
  }));
  const state = { signWith: undefined as number | undefined, calls: 0, failList: false };
  const backend: KeyBackend = {
    kind: options.signsLocally ? 'fake-local' : 'fake-remote',
    ...(options.signsLocally ? { signsLocally: true } : {}),
    async listKeys() {
      if (state.failList) throw new Error('unreachable');
      return pairs.map((pair, index) => ({
        ref: `key-${index}`,
        alg: 'ES256',
        publicKey: pair.publicKey,
        createdAt: pair.createdAt,
        enabled: pair.enabled,
      }));
    },
    async sign(key: BackendKey, input: Uint8Array) {
      state.calls++;
      const index = state.signWith ?? Number(key.ref.split('-')[1]);
      return signLocal('ES256', pairs[index]!.privateKey, input);
    },
  };
  return { backend, pairs, state };
}

/** A ring over one local ES256 key, loaded: what minting and status lists sign with in tests. */
export async function oneKeyRing() {
  const { backend, pairs } = fakeBackend({ keyCount: 1, signsLocally: true });
  const ring = new KeyRing(backend, { logger: pino({ level: 'silent' }) });
  await ring.refresh();
  return { ring, publicKey: pairs[0]!.publicKey, privateKey: pairs[0]!.privateKey };
}
