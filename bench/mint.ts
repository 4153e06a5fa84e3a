import { randomUUID } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { FileBackend, generatePrivateKey } from '../backends/file/index.js';
import type { ExecutionRecord } from '../src/executions/execution.js';
import { signLocal, signLocalAsync } from '../src/jws/compact.js';
import { KeyRing } from '../src/keys/ring.js';
import { TokenMinter } from '../src/tokens/mint.js';
import { interleavedRatio, opsPerSecond, round } from './stats.js';

/** As many mints in flight as the HTTP benches have connections. */
const MINTS_IN_FLIGHT = 32;

/**
 * In-process mint (file backend, ES256, full claims; signed on the thread pool, 32 in flight)
 * vs raw crypto.sign over the same input, on the thread pool as well, and synchronously.
 */
export async function benchMint(): Promise<Record<string, number>> {
  const dir = await mkdtemp(join(tmpdir(), 'wfid-bench-'));
  // The baseline signs with the very key the file backend loads.
  const privateKey = generatePrivateKey('ES256');
  const pem = privateKey.export({ format: 'pem', type: 'pkcs8' });
  await writeFile(join(dir, '20260101T000000000Z-0badbeef.ES256.pem'), pem, { mode: 0o600 });
  const backend = new FileBackend(dir, 'ES256');
  const ring = new KeyRing(backend, { logger: pino({ level: 'silent' }) });
  await ring.refresh();
  const minter = new TokenMinter({
    ring,
    issuer: 'https://wfid.example.com',
    subjectTemplate: 'workflow:{workflow_id}',
    extraClaims: ['team'],
    lifetimeMs: 600_000,
    maxLifetimeMs: 3_600_000,
    statusListUri: (list) => `https://wfid.example.com/v1/status-lists/${list}`,
  });
  const execution: ExecutionRecord = {
    engine: 'n8n-prod',
    executionId: randomUUID(),
    workflowId: 'wf-bench-0001',
    workflowName: 'Nightly invoice sync',
    workflowVersion: 'v42',
    projectId: 'finance',
    owner: 'alice@example.com',
    mode: 'trigger',
    trigger: 'cron',
    environment: 'production',
    instance: 'n8n-main-1',
    claims: { team: 'data-platform' },
    status: 'running',
    startedAt: Date.now(),
    deadline: Date.now() + 86_400_000,
    statusEntry: { list: 12, idx: 40_123 },
  };
  const sample = await minter.mint(execution, { audience: 'https://sts.amazonaws.com' });
  const signingInput = Buffer.from(sample.value.split('.').slice(0, 2).join('.'));

  const mint = () =>
    opsPerSecond(
      () => minter.mint(execution, { audience: 'https://sts.amazonaws.com' }),
      800,
      MINTS_IN_FLIGHT,
    );
  // The same signature the same way (thread pool, as many in flight): what the minter adds.
  const result = await interleavedRatio(
    mint,
    () =>
      opsPerSecond(() => signLocalAsync('ES256', privateKey, signingInput), 800, MINTS_IN_FLIGHT),
    5,
  );
  // And against the cheapest CPU path there is, one synchronous signature after another: the
  // thread pool's hand-off costs CPU in a loop without I/O, but buys throughput in the server.
  const sync = await interleavedRatio(
    mint,
    () => opsPerSecond(() => signLocal('ES256', privateKey, signingInput), 800),
    3,
  );
  await rm(dir, { recursive: true, force: true });
  return {
    mint_per_s: Math.round(result.candidate),
    raw_sign_per_s: Math.round(result.baseline),
    mint_vs_raw_sign: round(result.ratio),
    raw_sync_sign_per_s: Math.round(sync.baseline),
    mint_vs_raw_sync_sign: round(sync.ratio),
  };
}
