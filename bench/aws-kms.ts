/**
 * What the issuer adds to a KMS Sign, against LocalStack in this run (target: <= 1 ms at p99),
 * and tokens/s at 32 concurrent mints.
 *
 * "Added" is measured per call: the whole `ring.sign` (hash, Sign limit, retry wrapper,
 * DER → r||s, the local verify against the published key) minus the time that same call spent
 * inside the SDK's `send` for Sign (timed by a middleware on the backend's own client). Pairing
 * within one call removes LocalStack's own jitter, which is larger than the figure measured.
 * A raw SDK Sign (no issuer code) is reported beside it for scale.
 */
import { createHash, randomBytes } from 'node:crypto';
import { SignCommand } from '@aws-sdk/client-kms';
import pino from 'pino';
import { type AwsKmsBackend, createBackend } from '../backends/aws-kms/index.js';
import { loadConfig } from '../src/config/load.js';
import { signCompact } from '../src/jws/compact.js';
import { KeyRing } from '../src/keys/ring.js';
import { LOCALSTACK_AWS_ENV, startLocalStack } from '../test/peers/localstack.js';
import { percentile, round } from './stats.js';

const SIGNS = 300;
const CONCURRENCY = 32;
const THROUGHPUT_MS = 3_000;

export async function benchAwsKms(): Promise<Record<string, number>> {
  Object.assign(process.env, LOCALSTACK_AWS_ENV);
  const localstack = await startLocalStack();
  try {
    const key = await localstack.createKey({ keySpec: 'ECC_NIST_P256' });
    const backend = (await createBackend({
      // Straight to LocalStack, as the raw baseline is (not through the peer's outage relay).
      uri: `awskms://127.0.0.1:${localstack.directPort}/${key.arn}`,
      alg: 'ES256',
      section: loadConfig({ env: {}, overrides: { 'aws_kms.discovery': 'none' } }).aws_kms,
      create: 'never',
      logger: pino({ level: 'silent' }),
    })) as AwsKmsBackend;
    const ring = new KeyRing(backend, { logger: pino({ level: 'silent' }) });
    await ring.refresh();

    let sendMs = 0;
    backend.api.client.middlewareStack.add(
      (next) => async (args) => {
        const started = performance.now();
        try {
          return await next(args);
        } finally {
          sendMs = performance.now() - started;
        }
      },
      { step: 'initialize', name: 'benchSendTimer', priority: 'high' },
    );

    const input = Buffer.from(
      `${randomBytes(60).toString('base64url')}.${randomBytes(300).toString('base64url')}`,
    );
    const digest = createHash('sha256').update(input).digest();
    const rawSign = () =>
      localstack.kms.send(
        new SignCommand({
          KeyId: key.arn,
          Message: digest,
          MessageType: 'DIGEST',
          SigningAlgorithm: 'ECDSA_SHA_256',
        }),
      );

    for (let i = 0; i < 30; i++) {
      await ring.sign(input);
      await rawSign();
    }
    const added: number[] = [];
    const ringTotal: number[] = [];
    const raw: number[] = [];
    for (let i = 0; i < SIGNS; i++) {
      let started = performance.now();
      await ring.sign(input);
      const total = performance.now() - started;
      ringTotal.push(total);
      added.push(total - sendMs);
      started = performance.now();
      await rawSign();
      raw.push(performance.now() - started);
    }

    const header = ring.signingKey().encodedHeader;
    const tokensPerS = await throughput(() =>
      signCompact(
        header,
        { sub: 'workflow:bench', jti: randomBytes(12).toString('hex') },
        (signingInput) => ring.sign(signingInput),
      ),
    );
    const rawPerS = await throughput(rawSign);
    await ring.close();

    return {
      awskms_added_p50_ms: round(percentile(added, 50), 3),
      awskms_added_p99_ms: round(percentile(added, 99), 3),
      awskms_ring_sign_p50_ms: round(percentile(ringTotal, 50), 2),
      awskms_ring_sign_p99_ms: round(percentile(ringTotal, 99), 2),
      awskms_raw_sign_p50_ms: round(percentile(raw, 50), 2),
      awskms_raw_sign_p99_ms: round(percentile(raw, 99), 2),
      awskms_tokens_per_s_c32: Math.round(tokensPerS),
      awskms_raw_sign_per_s_c32: Math.round(rawPerS),
    };
  } finally {
    await localstack.close();
  }
}

/** Completed operations per wall-clock second with CONCURRENCY loops running. */
async function throughput(operation: () => Promise<unknown>): Promise<number> {
  let done = 0;
  const deadline = performance.now() + THROUGHPUT_MS;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (performance.now() < deadline) {
        await operation();
        done++;
      }
    }),
  );
  return (done / (performance.now() - started)) * 1000;
}
