/**
 * `POST /v1/executions` with each store (SQLite, PostgreSQL, Redis) in the same run, rounds
 * interleaved: every request registers a new execution, so every one is a durable write.
 * Figures per wall second (registration is bound by commits, not CPU) and p99, 32 connections:
 *   registration_<store>_per_s, registration_<store>_p99_ms
 * And what grouping writes buys, in process against the same servers, rounds interleaved: a
 * new execution with its request token, then its end, 32 at a time. `grouped` is PostgreSQL's
 * group commit (the default) and Redis with ioredis auto-pipelining (off by default: it did not
 * pay); `alone` is one statement per write, and Redis as the store runs it:
 *   store_writes_<store>_{grouped,alone}_per_s, _p99_ms, store_writes_<store>_grouped_vs_alone
 */
import { randomBytes, randomUUID } from 'node:crypto';
import type { ExecutionStore } from '../src/executions/store.js';
import { PostgresStore } from '../src/executions/stores/postgres.js';
import { RedisStore } from '../src/executions/stores/redis.js';
import { type BenchIssuer, ENGINE_TOKEN, startBenchIssuer } from './http.js';
import { measure, warmUp } from './load.js';
import { registrations } from './registration.js';
import { median, percentile, round } from './stats.js';
import { startBenchStores } from './stores.js';

const ROUNDS = 3;
const KINDS = ['sqlite', 'postgres', 'redis'] as const;

export async function benchRegistrationStores(): Promise<Record<string, number>> {
  const peers = await startBenchStores();
  const issuers: Partial<Record<(typeof KINDS)[number], BenchIssuer>> = {};
  try {
    const request = (kind: (typeof KINDS)[number]) =>
      registrations(
        `${issuers[kind]!.url}/v1/executions`,
        { authorization: `Bearer ${ENGINE_TOKEN}` },
        `bench-${kind}`,
      );
    for (const kind of KINDS) {
      issuers[kind] = await startBenchIssuer({ WFID_STORE: peers.urls[kind] });
      await warmUp(request(kind));
    }
    const perSecond = Object.fromEntries(KINDS.map((kind) => [kind, [] as number[]]));
    const p99 = Object.fromEntries(KINDS.map((kind) => [kind, [] as number[]]));
    for (let i = 0; i < ROUNDS; i++) {
      for (const kind of KINDS) {
        const { perWallSecond, result } = await measure(issuers[kind]!.pid, request(kind));
        perSecond[kind]!.push(perWallSecond);
        p99[kind]!.push(result.latencyMs.p99);
      }
    }
    const figures: Record<string, number> = {};
    for (const kind of KINDS) {
      figures[`registration_${kind}_per_s`] = Math.round(median(perSecond[kind]!));
      figures[`registration_${kind}_p99_ms`] = round(median(p99[kind]!), 1);
    }
    Object.assign(
      figures,
      await storeWrites('postgres', {
        grouped: () => PostgresStore.open(peers.urls.postgres),
        alone: () => PostgresStore.open(peers.urls.postgres, { groupCommit: false }),
      }),
      await storeWrites('redis', {
        grouped: () => RedisStore.open(peers.urls.redis),
        alone: () => RedisStore.open(peers.urls.redis, { autoPipelining: false }),
      }),
    );
    return figures;
  } finally {
    for (const issuer of Object.values(issuers)) await issuer.stop().catch(() => {});
    await peers.close();
  }
}

const WRITES_PER_ROUND = 2_000;
const IN_FLIGHT = 32;

/** Registration + end through the store itself, with and without group commit, interleaved. */
async function storeWrites(
  kind: string,
  open: Record<'grouped' | 'alone', () => Promise<ExecutionStore>>,
): Promise<Record<string, number>> {
  const stores = { grouped: await open.grouped(), alone: await open.alone() };
  const rounds = { grouped: [] as number[], alone: [] as number[] };
  const p99 = { grouped: [] as number[], alone: [] as number[] };
  try {
    for (const store of Object.values(stores)) await writes(store, 200); // warm up
    for (let i = 0; i < ROUNDS; i++) {
      for (const mode of ['alone', 'grouped'] as const) {
        const started = performance.now();
        const latencies = await writes(stores[mode], WRITES_PER_ROUND);
        rounds[mode].push(WRITES_PER_ROUND / ((performance.now() - started) / 1000));
        p99[mode].push(percentile(latencies, 99));
      }
    }
  } finally {
    for (const store of Object.values(stores)) await store.close();
  }
  const ratios = rounds.grouped.map((grouped, index) => grouped / rounds.alone[index]!);
  return {
    [`store_writes_${kind}_grouped_per_s`]: Math.round(median(rounds.grouped)),
    [`store_writes_${kind}_alone_per_s`]: Math.round(median(rounds.alone)),
    [`store_writes_${kind}_grouped_vs_alone`]: round(median(ratios)),
    [`store_writes_${kind}_grouped_p99_ms`]: round(median(p99.grouped), 1),
    [`store_writes_${kind}_alone_p99_ms`]: round(median(p99.alone), 1),
  };
}

/** `count` registrations (with a request token) each followed by its end, `IN_FLIGHT` at once. */
async function writes(store: ExecutionStore, count: number): Promise<number[]> {
  const latencies: number[] = [];
  let next = 0;
  const lane = async () => {
    while (next++ < count) {
      const started = performance.now();
      const now = Date.now();
      const executionId = `bench-${randomUUID()}`;
      await store.insertExecution(
        {
          engine: 'bench',
          executionId,
          workflowId: 'wf-bench',
          workflowName: 'Nightly invoice sync',
          mode: 'trigger',
          claims: {},
          status: 'running',
          startedAt: now,
          deadline: now + 3_600_000,
        },
        { tokenId: randomUUID(), secretHash: randomBytes(32) },
      );
      await store.endExecution('bench', executionId, 'success', Date.now());
      latencies.push(performance.now() - started);
    }
  };
  await Promise.all(Array.from({ length: IN_FLIGHT }, lane));
  return latencies;
}
