/**
 * The store work behind every /v1/token and /v1/introspect request (a request-token lookup and
 * an execution lookup), on SQLite, PostgreSQL and Redis in the same run, against real local
 * servers started by the test peers. Figures:
 *   stores.<kind>.lookup_ops_per_s      lookups per second with 32 requests in flight
 *   stores.<kind>.lookup_p50_ms / _p99  latency of one lookup pair, one request at a time
 *   stores.<kind>.lookup_added_p50_ms   what the store adds per request compared with SQLite
 *   stores.<kind>.end_p50_ms            a durable end of execution (commit + fsync)
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ExecutionRecord } from '../src/executions/execution.js';
import type { ExecutionStore } from '../src/executions/store.js';
import { PostgresStore } from '../src/executions/stores/postgres.js';
import { RedisStore } from '../src/executions/stores/redis.js';
import { SqliteStore } from '../src/executions/stores/sqlite.js';
import { startPostgres } from '../test/peers/postgres.js';
import { startRedis } from '../test/peers/redis.js';

const EXECUTIONS = 1_000;
const SEQUENTIAL_OPS = 2_000;
const CONCURRENT_OPS = 20_000;
const IN_FLIGHT = 32;
const ENDS = 300;

export interface BenchStores {
  /** Store URLs for `WFID_STORE`: sqlite, postgres, redis. */
  urls: Record<'sqlite' | 'postgres' | 'redis', string>;
  close(): Promise<void>;
}

/** Starts a local PostgreSQL and Redis (and a SQLite path) for benchmarks through the HTTP server too. */
export async function startBenchStores(): Promise<BenchStores> {
  const dir = await mkdtemp(join(tmpdir(), 'wfid-bench-'));
  const [pg, redis] = await Promise.all([startPostgres(), startRedis()]);
  return {
    urls: { sqlite: `sqlite:${join(dir, 'bench.db')}`, postgres: pg.url, redis: redis.url },
    async close() {
      await Promise.all([pg.close(), redis.close()]);
      await rm(dir, { recursive: true, force: true });
    },
  };
}

export async function benchStores(): Promise<Record<string, number>> {
  const peers = await startBenchStores();
  const stores: Record<string, ExecutionStore> = {};
  const results: Record<string, number> = {};
  try {
    stores.sqlite = new SqliteStore(peers.urls.sqlite.slice('sqlite:'.length));
    stores.postgres = await PostgresStore.open(peers.urls.postgres);
    stores.redis = await RedisStore.open(peers.urls.redis);
    for (const [kind, store] of Object.entries(stores)) {
      const tokenIds = await seed(store);
      const lookup = async (index: number) => {
        const token = await store.getRequestToken(tokenIds[index % tokenIds.length]!);
        await store.getExecution(token!.engine, token!.executionId);
        return undefined; // run() times it
      };
      await run(lookup, 500, 1); // warm up connections and prepared statements

      const latencies = await run(lookup, SEQUENTIAL_OPS, 1);
      results[`stores.${kind}.lookup_p50_ms`] = percentile(latencies, 50);
      results[`stores.${kind}.lookup_p99_ms`] = percentile(latencies, 99);

      const started = performance.now();
      await run(lookup, CONCURRENT_OPS, IN_FLIGHT);
      results[`stores.${kind}.lookup_ops_per_s`] = Math.round(
        CONCURRENT_OPS / ((performance.now() - started) / 1000),
      );

      const ends = await run(
        async () => {
          const record = execution();
          await store.insertExecution(record);
          const before = performance.now();
          await store.endExecution(record.engine, record.executionId, 'success', Date.now());
          return performance.now() - before;
        },
        ENDS,
        1,
      );
      results[`stores.${kind}.end_p50_ms`] = percentile(ends, 50);
    }
    const baseline = results['stores.sqlite.lookup_p50_ms']!;
    for (const kind of ['postgres', 'redis']) {
      results[`stores.${kind}.lookup_added_p50_ms`] = round(
        results[`stores.${kind}.lookup_p50_ms`]! - baseline,
      );
    }
    return results;
  } finally {
    for (const store of Object.values(stores)) await store.close().catch(() => {});
    await peers.close();
  }
}

async function seed(store: ExecutionStore): Promise<string[]> {
  const tokenIds: string[] = [];
  for (let index = 0; index < EXECUTIONS; index++) {
    const record = execution();
    await store.insertExecution(record);
    const tokenId = randomUUID();
    await store.addRequestToken(tokenId, {
      engine: record.engine,
      executionId: record.executionId,
      secretHash: randomBytes(32),
    });
    tokenIds.push(tokenId);
  }
  return tokenIds;
}

/**
 * Runs `op` `count` times with `inFlight` at once; returns each op's duration in ms (or what
 * the op itself returns as its duration).
 */
async function run(
  op: (index: number) => Promise<number | undefined>,
  count: number,
  inFlight: number,
): Promise<number[]> {
  const durations: number[] = [];
  let next = 0;
  const lane = async () => {
    while (next < count) {
      const index = next++;
      const started = performance.now();
      const measured = await op(index);
      durations.push(typeof measured === 'number' ? measured : performance.now() - started);
    }
  };
  await Promise.all(Array.from({ length: inFlight }, lane));
  return durations;
}

function execution(): ExecutionRecord {
  const now = Date.now();
  return {
    engine: 'bench',
    executionId: `bench-${randomUUID()}`,
    workflowId: 'wf-bench',
    workflowName: 'Benchmark',
    claims: { team: 'bench' },
    status: 'running',
    startedAt: now,
    deadline: now + 3_600_000,
  };
}

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return round(sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!);
}

function round(value: number): number {
  return Math.round(value * 1000) / 1000;
}
