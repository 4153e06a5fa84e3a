import { randomBytes } from 'node:crypto';
import { Writable } from 'node:stream';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openKmsClient } from '../../backends/gcp-kms/client.js';
import { createBackend, type GcpKmsBackend } from '../../backends/gcp-kms/index.js';
import { parseKeyUri } from '../../backends/gcp-kms/uri.js';
import { loadConfig } from '../../src/config/load.js';
import { isWfidError } from '../../src/errors.js';
import type { JwsAlg } from '../../src/jws/algorithms.js';
import { verifySignature } from '../../src/jws/compact.js';
import type { BackendKey } from '../../src/keys/backend.js';
import { type GcpKmsPeer, startGcpKms, waitEnabled } from '../peers/gcp-kms.js';
import { describeBackendConformance } from './conformance.js';

const KMS_ALGORITHM: Record<JwsAlg, string> = {
  ES256: 'EC_SIGN_P256_SHA256',
  ES384: 'EC_SIGN_P384_SHA384',
  RS256: 'RSA_SIGN_PKCS1_2048_SHA256',
  PS256: 'RSA_SIGN_PSS_2048_SHA256',
  EdDSA: 'EC_SIGN_ED25519',
};

const silent = pino({ level: 'silent' });
let kms: GcpKmsPeer;

beforeAll(async () => {
  // As in CI: nothing may reach for a GCE metadata server.
  process.env.METADATA_SERVER_DETECTION = 'none';
  kms = await startGcpKms();
}, 60_000);

afterAll(async () => {
  await kms?.close();
});

/** A backend through the real config path: the key URI plus WFID_GCP_KMS_* env of the peer. */
async function openBackend(uri: string, env: Record<string, string> = {}, logger = silent) {
  const config = loadConfig({ env: { ...kms.env, WFID_KEYS: uri, ...env } });
  return (await createBackend({
    uri,
    alg: config.alg,
    section: config.gcp_kms,
    create: config.keys.create,
    logger,
  })) as GcpKmsBackend;
}

describeBackendConformance({
  name: 'gcp-kms',
  algs: ['ES256', 'ES384', 'RS256', 'PS256', 'EdDSA'],
  open: async (alg) => {
    const cryptoKey = await kms.createCryptoKey(KMS_ALGORITHM[alg]);
    return { backend: await openBackend(`gcpkms://${cryptoKey}`, { WFID_ALG: alg }) };
  },
  missingKey: (key) => ({ ...key, ref: key.ref.replace(/\d+$/, '999') }),
});

describe('gcp-kms key URIs and config', () => {
  it('parses a CryptoKey URI and one pinning a version', () => {
    const key = 'projects/p-1/locations/europe-west1/keyRings/wfid/cryptoKeys/signing';
    expect(parseKeyUri(`gcpkms://${key}`)).toEqual({ cryptoKey: key });
    expect(parseKeyUri(`gcpkms://${key}/cryptoKeyVersions/7`)).toEqual({
      cryptoKey: key,
      version: `${key}/cryptoKeyVersions/7`,
    });
  });

  it.each([
    'gcpkms://projects/p/locations/l/keyRings/r',
    'gcpkms://projects/p/locations/l/keyRings/r/cryptoKeys/k/cryptoKeyVersions/0',
    'gcpkms://projects/p/locations/l/keyRings/r/cryptoKeys/k/',
    'gcpkms:///projects/p/locations/l/keyRings/r/cryptoKeys/k',
    'awskms:///alias/wfid',
  ])('refuses %s with ERR_CONFIG', (uri) => {
    expect(() => parseKeyUri(uri)).toThrow(expect.objectContaining({ code: 'ERR_CONFIG' }));
  });

  it('refuses insecure (plaintext) gRPC to anything but a loopback address', async () => {
    const config = (env: Record<string, string>) =>
      loadConfig({ env: { ...kms.env, ...env } }).gcp_kms;
    for (const host of ['kms.example.com', '10.0.0.8', 'cloudkms.googleapis.com']) {
      const error = await openKmsClient(config({ WFID_GCP_KMS_API_ENDPOINT: host })).catch(
        (err) => err,
      );
      expect(isWfidError(error, 'ERR_CONFIG')).toBe(true);
    }
    const error = await openKmsClient({ ...config({}), api_endpoint: undefined }).catch(
      (err) => err,
    );
    expect(isWfidError(error, 'ERR_CONFIG')).toBe(true);
    for (const host of ['127.0.0.1', 'localhost', '[::1]']) {
      const client = await openKmsClient(config({ WFID_GCP_KMS_API_ENDPOINT: host }));
      await client.close();
    }
  });
});

describe('gcp-kms versions', () => {
  it('a pinned version is the only one listed, and the issuer neither creates nor disables versions', async () => {
    const cryptoKey = await kms.createCryptoKey('EC_SIGN_P256_SHA256');
    const [second] = await kms
      .client()
      .createCryptoKeyVersion({ parent: cryptoKey, cryptoKeyVersion: {} });
    await waitEnabled(kms.client(), second.name!);
    const backend = await openBackend(`gcpkms://${cryptoKey}/cryptoKeyVersions/1`);
    const keys = await backend.listKeys();
    expect(keys.map((key) => key.ref)).toEqual([`${cryptoKey}/cryptoKeyVersions/1`]);
    expect(backend.createKey).toBeUndefined();
    expect(backend.disableKey).toBeUndefined();
    await backend.close();
  });

  it('skips versions still PENDING_GENERATION and algorithms JWS cannot use (with a warning)', async () => {
    const warnings: string[] = [];
    const logger = pino(
      { level: 'warn' },
      new Writable({ write: (chunk, _enc, done) => done(void warnings.push(String(chunk))) }),
    );
    const cryptoKey = await kms.createCryptoKey('EC_SIGN_P256_SHA256');
    const backend = await openBackend(`gcpkms://${cryptoKey}`, {}, logger);
    await kms.setGenerationDelay(60_000);
    try {
      const [pending] = await kms
        .client()
        .createCryptoKeyVersion({ parent: cryptoKey, cryptoKeyVersion: {} });
      expect(pending.state).toBe('PENDING_GENERATION');
      expect((await backend.listKeys()).map((key) => key.ref)).toEqual([
        `${cryptoKey}/cryptoKeyVersions/1`,
      ]);
    } finally {
      await kms.setGenerationDelay(30);
    }
    await backend.close();

    const secp256k1 = await kms.createCryptoKey('EC_SIGN_SECP256K1_SHA256');
    const other = await openBackend(`gcpkms://${secp256k1}`, {}, logger);
    expect(await other.listKeys()).toEqual([]);
    await other.listKeys();
    const skipped = warnings.filter((line) => line.includes('EC_SIGN_SECP256K1_SHA256'));
    expect(skipped).toHaveLength(1); // warned once per version, not on every refresh
    await other.close();
  });

  it('a version disabled outside the issuer is listed as disabled; public keys are fetched once', async () => {
    const cryptoKey = await kms.createCryptoKey('EC_SIGN_P384_SHA384');
    const backend = await openBackend(`gcpkms://${cryptoKey}`);
    const [key] = await backend.listKeys();
    const fetched = await kms.calls('GetPublicKey');
    await kms.client().updateCryptoKeyVersion({
      cryptoKeyVersion: { name: key!.ref, state: 'DISABLED' },
      updateMask: { paths: ['state'] },
    });
    const [listed] = await backend.listKeys();
    expect(listed).toMatchObject({ ref: key!.ref, enabled: false, alg: 'ES384' });
    expect(await kms.calls('GetPublicKey')).toBe(fetched);
    const error = await backend.sign(key!, randomBytes(16)).catch((err) => err);
    expect(isWfidError(error, 'ERR_KEY_DISABLED')).toBe(true);
    await backend.close();
  });

  it('lists every page of a key with many versions', async () => {
    const cryptoKey = await kms.createCryptoKey('EC_SIGN_P256_SHA256');
    const client = kms.client();
    const created = await Promise.all(
      Array.from({ length: 30 }, () =>
        client.createCryptoKeyVersion({ parent: cryptoKey, cryptoKeyVersion: {} }),
      ),
    );
    await Promise.all(created.map(([version]) => waitEnabled(client, version.name!)));
    const backend = await openBackend(`gcpkms://${cryptoKey}`);
    expect(await backend.listKeys()).toHaveLength(31);
    await backend.close();
  }, 30_000);

  it('createKey waits for the new version to leave PENDING_GENERATION', async () => {
    const cryptoKey = await kms.createCryptoKey('EC_SIGN_P256_SHA256');
    const backend = await openBackend(`gcpkms://${cryptoKey}`);
    await kms.setGenerationDelay(400);
    try {
      const created = await backend.createKey!();
      expect(created.enabled).toBe(true);
      const input = randomBytes(20);
      expect(
        verifySignature('ES256', created.publicKey, input, await backend.sign(created, input)),
      ).toBe(true);
    } finally {
      await kms.setGenerationDelay(30);
    }
    await backend.close();
  });

  it('refuses to sign with a version of another CryptoKey', async () => {
    const backend = await openBackend(
      `gcpkms://${await kms.createCryptoKey('EC_SIGN_P256_SHA256')}`,
    );
    const [key] = await backend.listKeys();
    const foreign: BackendKey = {
      ...key!,
      ref: key!.ref.replace(/cryptoKeys\/[^/]+/, 'cryptoKeys/other'),
    };
    const error = await backend.sign(foreign, randomBytes(8)).catch((err) => err);
    expect(isWfidError(error, 'ERR_KEY_NOT_FOUND')).toBe(true);
    await backend.close();
  });
});
