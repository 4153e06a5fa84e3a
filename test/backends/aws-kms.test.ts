import { randomBytes, randomUUID } from 'node:crypto';
import {
  CreateAliasCommand,
  DescribeKeyCommand,
  DisableKeyCommand,
  VerifyCommand,
} from '@aws-sdk/client-kms';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type AwsKmsBackend, createBackend } from '../../backends/aws-kms/index.js';
import { loadConfig } from '../../src/config/load.js';
import { isWfidError } from '../../src/errors.js';
import { MemoryStore } from '../../src/executions/stores/memory.js';
import { keyLifecycle } from '../../src/issuer.js';
import type { JwsAlg } from '../../src/jws/algorithms.js';
import { rawToDer } from '../../src/jws/ecdsa.js';
import { toPublicJwk } from '../../src/jws/jwk.js';
import { KeyRing } from '../../src/keys/ring.js';
import { LOCALSTACK_AWS_ENV, type LocalStack, startLocalStack } from '../peers/localstack.js';
import { describeBackendConformance } from './conformance.js';

const logger = pino({ level: 'silent' });
// The SDK's default credential chain reads these, as it would read a role's in production.
Object.assign(process.env, LOCALSTACK_AWS_ENV);

/** One LocalStack for the whole file: it takes seconds to start. */
let localstack: LocalStack;
beforeAll(async () => {
  localstack = await startLocalStack();
}, 120_000);
afterAll(async () => {
  await localstack?.close();
});

const unique = (prefix: string) => `${prefix}-${randomBytes(4).toString('hex')}`;

/** Config with the aws_kms section set; retries short so fault tests stay quick. */
function configWith(section: Record<string, unknown> = {}, create = 'always') {
  const overrides = Object.fromEntries(
    Object.entries(section).map(([key, value]) => [`aws_kms.${key}`, value]),
  );
  return loadConfig({
    env: {},
    overrides: { 'aws_kms.retry_backoff': '20ms', 'keys.create': create, ...overrides },
  });
}

/**
 * The backend as the issuer opens it; with `firstKey`, the key lifecycle then makes the ring's
 * first key as `wfid serve` does on an empty ring (opening alone never makes one).
 */
async function open(
  uri: string,
  alg: JwsAlg,
  {
    firstKey,
    create,
    ...section
  }: Record<string, unknown> & { firstKey?: boolean; create?: string } = {},
) {
  const config = configWith(section, create);
  const backend = (await createBackend({
    uri,
    alg,
    section: config.aws_kms,
    create: config.keys.create,
    logger,
  })) as AwsKmsBackend;
  if (firstKey) {
    const ring = new KeyRing(backend, { logger });
    await keyLifecycle(config, new MemoryStore(), ring, logger).start();
  }
  return backend;
}

/** Counts the KMS operations a backend's client sends (SDK middleware, the real client). */
function countOperations(backend: AwsKmsBackend) {
  const counts = new Map<string, number>();
  let inFlight = 0;
  let maxInFlight = 0;
  backend.api.client.middlewareStack.add(
    (next, context) => async (args) => {
      counts.set(context.commandName!, (counts.get(context.commandName!) ?? 0) + 1);
      maxInFlight = Math.max(maxInFlight, ++inFlight);
      try {
        return await next(args);
      } finally {
        inFlight--;
      }
    },
    { step: 'initialize', name: 'wfidTestCounter' },
  );
  return { counts, maxInFlight: () => maxInFlight };
}

describeBackendConformance({
  name: 'aws-kms (LocalStack)',
  algs: ['ES256', 'ES384', 'RS256', 'PS256'],
  open: async (alg) => {
    const ring = unique(`conformance-${alg.toLowerCase()}`);
    // The issuer makes the first key itself and points the alias at it.
    const backend = await open(localstack.uri(`alias/${ring}`), alg, { ring, firstKey: true });
    return { backend };
  },
  missingKey: (key) => ({ ...key, ref: key.ref.replace(/key\/.+$/, `key/${randomUUID()}`) }),
});

describe('aws-kms backend against LocalStack', () => {
  it('sends a digest (MessageType DIGEST) that KMS verifies as a digest, and PSS with salt = 32', async () => {
    for (const alg of ['ES256', 'PS256'] as const) {
      const ring = unique('digest');
      const backend = await open(localstack.uri(`alias/${ring}`), alg, { ring, firstKey: true });
      const [key] = await backend.listKeys();
      const input = randomBytes(100);
      const signature = await backend.sign(key!, input);
      const { createHash } = await import('node:crypto');
      const verified = await localstack.kms.send(
        new VerifyCommand({
          KeyId: key!.ref,
          Message: createHash('sha256').update(input).digest(),
          MessageType: 'DIGEST',
          Signature: alg === 'ES256' ? rawToDer(signature) : signature,
          SigningAlgorithm: alg === 'ES256' ? 'ECDSA_SHA_256' : 'RSASSA_PSS_SHA_256',
        }),
      );
      expect(verified.SignatureValid).toBe(true);
      await backend.close();
    }
  });

  it('refuses at open a key whose KeyUsage is ENCRYPT_DECRYPT, or whose KeySpec cannot do the alg', async () => {
    const encrypting = await localstack.createKey({
      keySpec: 'RSA_2048',
      keyUsage: 'ENCRYPT_DECRYPT',
    });
    const error = await open(localstack.uri(encrypting.arn), 'RS256', { discovery: 'none' }).catch(
      (err) => err,
    );
    expect(isWfidError(error, 'ERR_KEY_UNSUITABLE')).toBe(true);

    const p384 = await localstack.createKey({ keySpec: 'ECC_NIST_P384' });
    const wrongCurve = await open(localstack.uri(p384.arn), 'ES256', { discovery: 'none' }).catch(
      (err) => err,
    );
    expect(isWfidError(wrongCurve, 'ERR_KEY_UNSUITABLE')).toBe(true);

    const eddsa = await open(localstack.uri(p384.arn), 'EdDSA', { discovery: 'none' }).catch(
      (err) => err,
    );
    expect(isWfidError(eddsa, 'ERR_CONFIG')).toBe(true);
  });

  it('refuses at open a URI key that is missing (unless keys.create lets the lifecycle make it) or disabled', async () => {
    const absent = localstack.uri(`alias/${unique('absent')}`);
    const missing = await open(absent, 'ES256', { create: 'never' }).catch((err) => err);
    expect(isWfidError(missing, 'ERR_KEY_NOT_FOUND')).toBe(true);
    // Allowed to create, opening still makes nothing: the alias stays unassigned.
    const opened = await open(absent, 'ES256');
    expect(await opened.listKeys()).toEqual([]);
    await opened.close();

    const key = await localstack.createKey({ keySpec: 'ECC_NIST_P256' });
    await localstack.kms.send(new DisableKeyCommand({ KeyId: key.arn }));
    const disabled = await open(localstack.uri(key.arn), 'ES256', { discovery: 'none' }).catch(
      (err) => err,
    );
    expect(isWfidError(disabled, 'ERR_KEY_DISABLED')).toBe(true);
  });

  it('finds the ring by tag: exactly the two keys tagged for it, made outside the issuer', async () => {
    const ring = unique('team');
    const tag = (value: string) => [{ TagKey: 'wfid:ring', TagValue: value }];
    const first = await localstack.createKey({ keySpec: 'ECC_NIST_P256', tags: tag(ring) });
    const second = await localstack.createKey({ keySpec: 'ECC_NIST_P256', tags: tag(ring) });
    await localstack.createKey({ keySpec: 'ECC_NIST_P256', tags: tag(`${ring}-other`) });
    await localstack.createKey({ keySpec: 'ECC_NIST_P256' });
    const alias = `alias/${ring}`;
    await localstack.kms.send(
      new CreateAliasCommand({ AliasName: alias, TargetKeyId: first.keyId }),
    );

    const backend = await open(localstack.uri(alias), 'ES256', { ring });
    expect((await backend.listKeys()).map((key) => key.ref).sort()).toEqual(
      [first.arn, second.arn].sort(),
    );
    await backend.close();

    // Without discovery only the URI's key and the listed keys are versions (a read-only signer).
    const listed = await open(localstack.uri(alias), 'ES256', {
      discovery: 'none',
      keys: [second.keyId],
    });
    expect((await listed.listKeys()).map((key) => key.ref).sort()).toEqual(
      [first.arn, second.arn].sort(),
    );
    expect(listed.createKey).toBeUndefined();
    const alone = await open(localstack.uri(alias), 'ES256', { discovery: 'none' });
    expect((await alone.listKeys()).map((key) => key.ref)).toEqual([first.arn]);
    await listed.close();
    await alone.close();
  });

  it('createKey tags the new key for the ring and moves the URI alias to it', async () => {
    const ring = unique('rotate');
    const alias = `alias/${ring}`;
    const backend = await open(localstack.uri(alias), 'ES256', { ring, firstKey: true });
    const [first] = await backend.listKeys();
    const created = await backend.createKey!();
    const target = await localstack.kms.send(new DescribeKeyCommand({ KeyId: alias }));
    expect(target.KeyMetadata!.Arn).toBe(created.ref);
    // The old key stays in the ring (found by its tag) so its tokens keep verifying.
    expect((await backend.listKeys()).map((key) => key.ref)).toEqual([first!.ref, created.ref]);
    await backend.close();
  });

  it('reads each public key once, not per token or per listing', async () => {
    const ring = unique('cache');
    const backend = await open(localstack.uri(`alias/${ring}`), 'ES256', {
      ring,
      firstKey: true,
    });
    const { counts } = countOperations(backend);
    const ringOfKeys = new KeyRing(backend, { logger });
    await ringOfKeys.refresh();
    for (let i = 0; i < 10; i++) await ringOfKeys.sign(randomBytes(32));
    await ringOfKeys.refresh();
    expect(counts.get('SignCommand')).toBe(10);
    expect(counts.get('GetPublicKeyCommand') ?? 0).toBe(0);
    await backend.close();
  });

  it('keeps at most max_concurrency Sign calls in flight', async () => {
    const ring = unique('limit');
    const backend = await open(localstack.uri(`alias/${ring}`), 'ES256', {
      ring,
      firstKey: true,
      max_concurrency: 3,
    });
    const [key] = await backend.listKeys();
    const { counts, maxInFlight } = countOperations(backend);
    const signatures = await Promise.all(
      Array.from({ length: 24 }, () => backend.sign(key!, randomBytes(32))),
    );
    expect(signatures).toHaveLength(24);
    expect(counts.get('SignCommand')).toBe(24);
    expect(maxInFlight()).toBe(3);
    await backend.close();
  });
});

// Last in the file: it stops the shared LocalStack.
describe('aws-kms backend when KMS goes away and comes back', () => {
  it('fails with ERR_BACKEND_UNAVAILABLE after bounded retries, signs nothing, then recovers with the same key', async () => {
    const key = await localstack.createKey({ keySpec: 'ECC_NIST_P256', restorable: true });
    const backend = await open(localstack.uri(key.arn), 'ES256', {
      discovery: 'none',
      retries: 2,
      retry_backoff: '50ms',
      retry_max_backoff: '200ms',
      timeout: '1s',
    });
    const { counts } = countOperations(backend);
    const ring = new KeyRing(backend, { logger });
    await ring.refresh();
    const kid = ring.signingKey().kid;
    await ring.sign(randomBytes(32));

    await localstack.stop();
    const started = Date.now();
    const error = await ring.sign(randomBytes(32)).catch((err) => err);
    expect(isWfidError(error, 'ERR_BACKEND_UNAVAILABLE')).toBe(true);
    expect(error.retryAfter).toBeGreaterThanOrEqual(1);
    expect(counts.get('SignCommand')).toBe(1 + 3); // one good call, then 1 attempt + 2 retries
    expect(Date.now() - started).toBeLessThan(5_000);
    // A refresh during the outage fails too; the ring keeps signing nothing but reports it.
    await expect(ring.refresh()).rejects.toSatisfy((err) =>
      isWfidError(err, 'ERR_BACKEND_UNAVAILABLE'),
    );
    expect(ring.health().ready).toBe(false);

    // Back with the same key (see test/peers/localstack.ts: LocalStack's community KMS keeps no
    // state, so the peer re-creates the key with its ARN and key pair before it lets clients in).
    await localstack.start();
    const input = randomBytes(32);
    const signature = await ring.sign(input);
    expect(signature).toHaveLength(64);
    await ring.refresh();
    expect(ring.health().ready).toBe(true);
    expect(ring.signingKey().kid).toBe(kid);
    expect(toPublicJwk(ring.signingKey().backendKey.publicKey, 'ES256').kid).toBe(kid);
    await backend.close();
  }, 120_000);
});
