/**
 * The gcp-kms backend against a misbehaving Cloud KMS: corrupted responses (CRC32C, wrong
 * version), transient faults and retries, permission and state errors, an outage and recovery.
 */
import { randomBytes } from 'node:crypto';
import pino from 'pino';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createBackend, type GcpKmsBackend } from '../../backends/gcp-kms/index.js';
import { loadConfig } from '../../src/config/load.js';
import { isWfidError } from '../../src/errors.js';
import { verifySignature } from '../../src/jws/compact.js';
import type { BackendKey } from '../../src/keys/backend.js';
import { KeyRing } from '../../src/keys/ring.js';
import { type GcpKmsPeer, startGcpKms } from '../peers/gcp-kms.js';

const silent = pino({ level: 'silent' });
/** Fast retries so fault tests take milliseconds: 3 attempts, 20 ms then 40 ms backoff (with jitter). */
const FAST = {
  WFID_GCP_KMS_RETRIES: '2',
  WFID_GCP_KMS_RETRY_BACKOFF: '20ms',
  WFID_GCP_KMS_RETRY_MAX_BACKOFF: '100ms',
  WFID_GCP_KMS_TIMEOUT: '2s',
};

let kms: GcpKmsPeer;
let cryptoKey: string;
let backend: GcpKmsBackend;
let key: BackendKey;

async function openBackend(uri: string, env: Record<string, string> = {}) {
  const config = loadConfig({ env: { ...kms.env, ...FAST, WFID_KEYS: uri, ...env } });
  return (await createBackend({
    uri,
    alg: config.alg,
    section: config.gcp_kms,
    create: config.keys.create,
    logger: silent,
  })) as GcpKmsBackend;
}

async function signError(target = key, on = backend): Promise<unknown> {
  return on.sign(target, randomBytes(32)).then(
    () => null,
    (err: unknown) => err,
  );
}

beforeAll(async () => {
  process.env.METADATA_SERVER_DETECTION = 'none';
  kms = await startGcpKms();
  cryptoKey = await kms.createCryptoKey('EC_SIGN_P256_SHA256');
  backend = await openBackend(`gcpkms://${cryptoKey}`);
  [key] = await backend.listKeys();
}, 60_000);

afterEach(async () => {
  await kms.clearFaults();
});

afterAll(async () => {
  await backend?.close();
  await kms?.close();
});

describe('gcp-kms response integrity', () => {
  it.each([
    ['signatureCrc32c', 'a signature CRC32C that does not match'],
    ['signature', 'a signature altered after its CRC32C was computed'],
    ['name', 'a response naming another version'],
    ['verifiedDigestCrc32c', 'a response that does not confirm the request checksum'],
  ] as const)('refuses %s corruption (%s) with ERR_BACKEND', async (field, _why) => {
    await kms.fault({ kind: 'corrupt', field }, { method: 'AsymmetricSign' });
    const error = await signError();
    expect(isWfidError(error, 'ERR_BACKEND')).toBe(true);
    // The next, clean answer is accepted: the fault was the response, not the key.
    const input = randomBytes(32);
    expect(verifySignature('ES256', key.publicKey, input, await backend.sign(key, input))).toBe(
      true,
    );
  });

  it('refuses a public key whose PEM does not match its CRC32C', async () => {
    // A backend that has not cached the key yet meets the corrupted answer at its first listing.
    const target = await kms.createCryptoKey('EC_SIGN_ED25519');
    await kms.fault({ kind: 'corrupt', field: 'pemCrc32c' }, { method: 'GetPublicKey' });
    const error = await openBackend(`gcpkms://${target}`).catch((err) => err);
    expect(isWfidError(error, 'ERR_BACKEND')).toBe(true);
    const clean = await openBackend(`gcpkms://${target}`);
    expect(await clean.listKeys()).toHaveLength(1);
    await clean.close();
  });
});

describe('gcp-kms transient faults', () => {
  it.each(['UNAVAILABLE', 'RESOURCE_EXHAUSTED'] as const)(
    'retries %s and succeeds when the service recovers within the retries',
    async (code) => {
      const before = await kms.calls('AsymmetricSign');
      await kms.fault({ kind: 'status', code }, { method: 'AsymmetricSign', times: 2 });
      const input = randomBytes(32);
      expect(verifySignature('ES256', key.publicKey, input, await backend.sign(key, input))).toBe(
        true,
      );
      expect((await kms.calls('AsymmetricSign')) - before).toBe(3);
    },
  );

  it.each([
    ['UNAVAILABLE', 1],
    ['RESOURCE_EXHAUSTED', 10],
  ] as const)(
    'gives up on %s after the configured retries: ERR_BACKEND_UNAVAILABLE',
    async (code, minRetryAfter) => {
      const before = await kms.calls('AsymmetricSign');
      await kms.fault({ kind: 'status', code }, { method: 'AsymmetricSign', times: 100 });
      const error = await signError();
      expect(isWfidError(error, 'ERR_BACKEND_UNAVAILABLE')).toBe(true);
      expect((error as { retryAfter: number }).retryAfter).toBeGreaterThanOrEqual(minRetryAfter);
      expect((await kms.calls('AsymmetricSign')) - before).toBe(3); // 1 + WFID_GCP_KMS_RETRIES
    },
  );

  it('treats a call past its deadline as DEADLINE_EXCEEDED: retried, then ERR_BACKEND_UNAVAILABLE', async () => {
    const slow = await openBackend(`gcpkms://${cryptoKey}`, { WFID_GCP_KMS_TIMEOUT: '150ms' });
    const [slowKey] = await slow.listKeys();
    await kms.fault({ kind: 'delay', ms: 600 }, { method: 'AsymmetricSign', times: 1 });
    const input = randomBytes(32);
    expect(verifySignature('ES256', key.publicKey, input, await slow.sign(slowKey!, input))).toBe(
      true,
    );
    await kms.fault({ kind: 'delay', ms: 600 }, { method: 'AsymmetricSign', times: 3 });
    const started = performance.now();
    const error = await signError(slowKey, slow);
    expect(isWfidError(error, 'ERR_BACKEND_UNAVAILABLE')).toBe(true);
    expect(performance.now() - started).toBeLessThan(1500); // bounded: 3 × 150 ms + backoff
    await slow.close();
  });

  it('does not retry CreateCryptoKeyVersion, which would leave a second version behind', async () => {
    const before = await kms.calls('CreateCryptoKeyVersion');
    await kms.fault(
      { kind: 'status', code: 'UNAVAILABLE' },
      { method: 'CreateCryptoKeyVersion', times: 5 },
    );
    const error = await backend.createKey!().catch((err) => err);
    expect(isWfidError(error, 'ERR_BACKEND_UNAVAILABLE')).toBe(true);
    expect((await kms.calls('CreateCryptoKeyVersion')) - before).toBe(1);
  });
});

describe('gcp-kms permission and state errors', () => {
  it('PERMISSION_DENIED on sign is ERR_BACKEND naming cloudkms.cryptoKeyVersions.useToSign', async () => {
    await kms.fault({ kind: 'status', code: 'PERMISSION_DENIED' }, { method: 'AsymmetricSign' });
    const error = await signError();
    expect(isWfidError(error, 'ERR_BACKEND')).toBe(true);
    expect((error as Error).message).toContain('cloudkms.cryptoKeyVersions.useToSign');
  });

  it('PERMISSION_DENIED at start (no viewPublicKey) stops the issuer with ERR_BACKEND', async () => {
    const target = await kms.createCryptoKey('EC_SIGN_P256_SHA256');
    await kms.fault({ kind: 'status', code: 'PERMISSION_DENIED' }, { method: 'GetPublicKey' });
    const error = await openBackend(`gcpkms://${target}`).catch((err) => err);
    expect(isWfidError(error, 'ERR_BACKEND')).toBe(true);
    expect((error as Error).message).toContain('cloudkms.cryptoKeyVersions.viewPublicKey');
  });

  it('a destroyed version answers FAILED_PRECONDITION: ERR_KEY_DISABLED', async () => {
    const target = await kms.createCryptoKey('EC_SIGN_P256_SHA256');
    const victim = await openBackend(`gcpkms://${target}`);
    const [victimKey] = await victim.listKeys();
    await kms.client().destroyCryptoKeyVersion({ name: victimKey!.ref });
    expect(isWfidError(await signError(victimKey, victim), 'ERR_KEY_DISABLED')).toBe(true);
    expect((await victim.listKeys())[0]).toMatchObject({ ref: victimKey!.ref, enabled: false });
    await victim.close();
  });

  it('a CryptoKey that does not exist stops the issuer with ERR_KEY_NOT_FOUND', async () => {
    const error = await openBackend(`gcpkms://${cryptoKey}-gone`).catch((err) => err);
    expect(isWfidError(error, 'ERR_KEY_NOT_FOUND')).toBe(true);
  });
});

describe('gcp-kms outage and recovery', () => {
  it('signing fails with ERR_BACKEND_UNAVAILABLE while KMS is down and works again after', async () => {
    const ring = new KeyRing(backend, { logger: silent });
    await ring.refresh();
    await kms.stop();
    let retryAfter = 0;
    try {
      const error = await ring.sign(randomBytes(32)).catch((err) => err);
      expect(isWfidError(error, 'ERR_BACKEND_UNAVAILABLE')).toBe(true);
      retryAfter = (error as { retryAfter: number }).retryAfter;
      expect(retryAfter).toBeGreaterThan(0);
    } finally {
      await kms.start();
    }
    // retryAfter is honest: by then the channel has reconnected, and the first try succeeds.
    await new Promise((resolve) => setTimeout(resolve, retryAfter * 1000));
    const input = randomBytes(32);
    const signature = await ring.sign(input);
    expect(verifySignature('ES256', key.publicKey, input, signature)).toBe(true);
  }, 30_000);

  it('starts while KMS is unreachable (the ring retries) instead of failing', async () => {
    await kms.stop();
    try {
      const started = await openBackend(`gcpkms://${cryptoKey}`);
      await started.close();
    } finally {
      await kms.start();
    }
  }, 30_000);
});
