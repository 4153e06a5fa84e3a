/**
 * The one conformance suite every key backend passes, run against the backend's real peer
 * (a directory, LocalStack, OpenBao, SoftHSM2, a gRPC server speaking the Cloud KMS protos).
 * Usage, in test/backends/<name>.test.ts:
 *
 *   describeBackendConformance({ name: 'file', algs: [...], open: async (alg) => ({ backend }) });
 */
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { compactVerify, importJWK } from 'jose';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isWfidError } from '../../src/errors.js';
import { MemoryKeyStateStore } from '../../src/executions/stores/memory.js';
import type { JwsAlg } from '../../src/jws/algorithms.js';
import { encodeHeader, signCompact, verifySignature } from '../../src/jws/compact.js';
import { toPublicJwk } from '../../src/jws/jwk.js';
import type { BackendKey, KeyBackend } from '../../src/keys/backend.js';
import { KeyLifecycle } from '../../src/keys/lifecycle.js';
import { retireKey } from '../../src/keys/operations.js';
import { KeyRing } from '../../src/keys/ring.js';

export interface OpenedBackend {
  backend: KeyBackend;
  cleanup?: () => Promise<void>;
}

export interface ConformanceTarget {
  name: string;
  /** Every alg the backend claims; the suite runs once per alg. */
  algs: JwsAlg[];
  /**
   * A backend for a fresh ring of `alg`. If the backend cannot create keys itself, the ring
   * must already hold at least two enabled versions (so one can be disabled).
   */
  open: (alg: JwsAlg) => Promise<OpenedBackend>;
  /** The same key with a ref that names no version in the backend. */
  missingKey: (existing: BackendKey) => BackendKey;
}

export function describeBackendConformance(target: ConformanceTarget): void {
  describe.each(target.algs)(`${target.name} backend conformance (%s)`, (alg) => {
    let opened: OpenedBackend;
    let backend: KeyBackend;

    beforeAll(async () => {
      opened = await target.open(alg);
      backend = opened.backend;
      if (backend.createKey && (await enabledKeys(backend)).length === 0) await backend.createKey();
    }, 120_000);

    afterAll(async () => {
      await backend?.close?.();
      await opened?.cleanup?.();
    });

    it('lists enabled versions of the configured alg with public keys', async () => {
      const keys = await enabledKeys(backend);
      expect(keys.length).toBeGreaterThan(0);
      for (const key of keys) {
        expect(key.alg).toBe(alg);
        expect(key.publicKey.type).toBe('public');
        expect(key.ref).not.toBe('');
        expect(key.createdAt.getTime()).not.toBeNaN();
      }
    });

    it('signs JOSE signatures that verify against the listed public key', async () => {
      const [key] = await enabledKeys(backend);
      const input = Buffer.from(
        `${encodeHeader({ alg, kid: 'k' })}.${randomBytes(48).toString('base64url')}`,
      );
      const signature = await backend.sign(key!, input);
      if (alg === 'ES256') expect(signature.length).toBe(64);
      if (alg === 'ES384') expect(signature.length).toBe(96);
      expect(verifySignature(alg, key!.publicKey, input, signature)).toBe(true);
    });

    it('produces a compact JWS an outside verifier (jose) accepts with the published JWK', async () => {
      const [key] = await enabledKeys(backend);
      const jwk = toPublicJwk(key!.publicKey, alg);
      const token = await signCompact(
        encodeHeader({ alg, kid: jwk.kid }),
        { hello: 'world' },
        (input) => backend.sign(key!, input),
      );
      const { payload, protectedHeader } = await compactVerify(token, await importJWK(jwk, alg));
      expect(protectedHeader.kid).toBe(jwk.kid);
      expect(JSON.parse(Buffer.from(payload).toString())).toEqual({ hello: 'world' });
    });

    it('signs with exactly the listed key: another key of the same type does not verify', async () => {
      const [key] = await enabledKeys(backend);
      const input = randomBytes(64);
      const signature = await backend.sign(key!, input);
      expect(verifySignature(alg, otherPublicKey(alg), input, signature)).toBe(false);
    });

    it('a tampered signature or signing input fails verification', async () => {
      const [key] = await enabledKeys(backend);
      const input = randomBytes(64);
      const signature = Buffer.from(await backend.sign(key!, input));
      const flipped = Buffer.from(signature);
      flipped[flipped.length - 1]! ^= 0x01;
      expect(verifySignature(alg, key!.publicKey, input, flipped)).toBe(false);
      const otherInput = Buffer.from(input);
      otherInput[0]! ^= 0x01;
      expect(verifySignature(alg, key!.publicKey, otherInput, signature)).toBe(false);
    });

    it('keeps kids stable across listings', async () => {
      const kids = async () =>
        new Map(
          (await backend.listKeys()).map((key) => [
            key.ref,
            toPublicJwk(key.publicKey, key.alg).kid,
          ]),
        );
      expect(await kids()).toEqual(await kids());
    });

    it('answers ERR_KEY_NOT_FOUND for a version it does not hold', async () => {
      const [key] = await enabledKeys(backend);
      const error = await backend
        .sign(target.missingKey(key!), randomBytes(32))
        .catch((err) => err);
      expect(isWfidError(error, 'ERR_KEY_NOT_FOUND')).toBe(true);
    });

    it('signs through a KeyRing, which checks the signature against the published key', async () => {
      const ring = new KeyRing(backend, { logger: pino({ level: 'silent' }) });
      await ring.refresh();
      const key = ring.signingKey();
      expect(ring.publishedKey(key.kid)).toBe(key);
      const input = randomBytes(40);
      expect(verifySignature(alg, key.backendKey.publicKey, input, await ring.sign(input))).toBe(
        true,
      );
    });

    it('creates a new version with a new kid, or refuses because versions are made outside', async () => {
      if (!backend.createKey) {
        expect(backend.createKey).toBeUndefined();
        return;
      }
      const before = new Set((await backend.listKeys()).map((key) => key.ref));
      const created = await backend.createKey();
      expect(before.has(created.ref)).toBe(false);
      expect(created.alg).toBe(alg);
      const listed = (await backend.listKeys()).find((key) => key.ref === created.ref);
      expect(listed?.enabled).toBe(true);
      expect(toPublicJwk(listed!.publicKey, alg).kid).toBe(toPublicJwk(created.publicKey, alg).kid);
    }, 60_000);

    it('rotates through its versions: published a lead time before signing, old signatures verify until retired, emergency retire', async () => {
      if (!backend.createKey) {
        expect(backend.createKey).toBeUndefined();
        return;
      }
      const DAY = 86_400_000;
      let now = Date.UTC(2026, 0, 1);
      const logger = pino({ level: 'silent' });
      const store = new MemoryKeyStateStore();
      const times = { prepublishMs: DAY, retainMs: 3_600_000 };
      const ring = new KeyRing(backend, { logger });
      const lifecycle = new KeyLifecycle({
        ring,
        store,
        times,
        everyMs: 30 * DAY,
        create: 'always',
        disableRetired: false,
        holder: 'conformance',
        leaseMs: 60_000,
        logger,
        now: () => now,
      });
      await lifecycle.tick();
      const first = ring.signingKey();
      const input = randomBytes(32);
      const oldSignature = await ring.sign(input);

      now += 29 * DAY; // the next version is prepared a lead time ahead
      await lifecycle.tick();
      const pending = ring.publishedKeys().find((key) => key.kid !== first.kid);
      expect(pending).toBeDefined();
      expect(ring.signingKey().kid).toBe(first.kid);

      now += DAY; // published a full lead time: it signs now
      await lifecycle.tick();
      expect(ring.signingKey().kid).toBe(pending!.kid);
      const published = ring.publishedKey(first.kid);
      expect(published).toBeDefined();
      expect(verifySignature(alg, published!.backendKey.publicKey, input, oldSignature)).toBe(true);

      now += times.retainMs; // every token of the old key has expired
      await lifecycle.tick();
      expect(ring.publishedKey(first.kid)).toBeUndefined();

      await retireKey(store, pending!.kid, { now: true, at: now }); // compromise
      await lifecycle.tick();
      expect(ring.publishedKey(pending!.kid)).toBeUndefined();
      const replacement = ring.signingKey();
      expect(replacement.kid).not.toBe(pending!.kid);
      const fresh = randomBytes(16);
      expect(
        verifySignature(alg, replacement.backendKey.publicKey, fresh, await ring.sign(fresh)),
      ).toBe(true);
    }, 120_000);

    it('a disabled version is listed as disabled and refuses to sign with ERR_KEY_DISABLED', async () => {
      if (!backend.disableKey) {
        expect(backend.disableKey).toBeUndefined();
        return;
      }
      const keys = await enabledKeys(backend);
      expect(keys.length).toBeGreaterThan(1);
      const victim = keys.at(-1)!;
      await backend.disableKey(victim);
      const listed = (await backend.listKeys()).find((key) => key.ref === victim.ref);
      expect(listed?.enabled).toBe(false);
      // Signing with the version as it was listed before (enabled) must still be refused.
      const error = await backend.sign(victim, randomBytes(32)).catch((err) => err);
      expect(isWfidError(error, 'ERR_KEY_DISABLED')).toBe(true);
    }, 60_000);
  });
}

async function enabledKeys(backend: KeyBackend): Promise<BackendKey[]> {
  return (await backend.listKeys()).filter((key) => key.enabled);
}

function otherPublicKey(alg: JwsAlg) {
  switch (alg) {
    case 'ES256':
      return generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey;
    case 'ES384':
      return generateKeyPairSync('ec', { namedCurve: 'P-384' }).publicKey;
    case 'EdDSA':
      return generateKeyPairSync('ed25519').publicKey;
    default:
      return generateKeyPairSync('rsa', { modulusLength: 2048 }).publicKey;
  }
}
