/**
 * Several replicas rotating keys on one real store (SQLite file, PostgreSQL, Redis) and one key
 * directory, each with its own store connection, every timer of every replica firing at once:
 * exactly one version is created per rotation, however the replicas interleave.
 */
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FileBackend } from '../../backends/file/index.js';
import type { ExecutionStore } from '../../src/executions/store.js';
import { openStore } from '../../src/executions/stores/open.js';
import { KeyLifecycle } from '../../src/keys/lifecycle.js';
import { KeyRing } from '../../src/keys/ring.js';
import { type PostgresPeer, startPostgres } from '../peers/postgres.js';
import { type RedisPeer, startRedis } from '../peers/redis.js';

const DAY = 86_400_000;
const REPLICAS = 4;
const ROTATIONS = 4;
const logger = pino({ level: 'silent' });

let postgres: PostgresPeer;
let redis: RedisPeer;
let scratch: string;
beforeAll(async () => {
  [postgres, redis] = await Promise.all([startPostgres(), startRedis()]);
  scratch = await mkdtemp(join(tmpdir(), 'wfid-rotation-replicas-'));
}, 120_000);
afterAll(async () => {
  await postgres?.close();
  await redis?.close();
  if (scratch) await rm(scratch, { recursive: true, force: true });
});

const STORES: Record<string, (name: string) => string> = {
  sqlite: (name) => `sqlite:${join(scratch, `${name}.db`)}`,
  postgres: () => postgres.url,
  redis: () => redis.url,
};

for (const [kind, urlOf] of Object.entries(STORES)) {
  describe(`${REPLICAS} replicas rotating on one ${kind} store`, () => {
    it('create exactly one version per rotation (and one first key)', async () => {
      const dir = await mkdtemp(join(scratch, `keys-${kind}-`));
      const url = urlOf(`rotation-${kind}`);
      let now = Date.UTC(2026, 0, 1);
      const clock = () => now;
      const stores: ExecutionStore[] = [];
      const replicas: { ring: KeyRing; lifecycle: KeyLifecycle }[] = [];
      for (let index = 0; index < REPLICAS; index++) {
        const store = await openStore(url);
        stores.push(store);
        const backend = new FileBackend(dir, 'ES256');
        const ring = new KeyRing(backend, { logger });
        const lifecycle = new KeyLifecycle({
          ring,
          store: store.keyStates,
          times: { prepublishMs: DAY, retainMs: 3_600_000 },
          everyMs: 10 * DAY,
          create: 'always',
          disableRetired: false,
          holder: `${kind}-${index}`,
          leaseMs: 60_000,
          logger,
          now: clock,
        });
        replicas.push({ ring, lifecycle });
      }
      // Every replica's backend tick and store follow at the same moment, as their timers do.
      const everyoneAtOnce = () =>
        Promise.all(
          replicas.flatMap(({ lifecycle }) => [
            lifecycle.tick(),
            lifecycle.follow(),
            lifecycle.tick(),
          ]),
        );
      // Then each lists the backend and reads the states once more (a follower may have read them just before
      // the leader wrote its step).
      const settle = async () => {
        for (const { lifecycle } of replicas) await lifecycle.tick();
      };
      try {
        // All start at once on an empty key directory: one of them makes the first key.
        await Promise.all(replicas.map(({ lifecycle }) => lifecycle.start()));
        await everyoneAtOnce();
        await settle();
        const first = replicas.map(({ ring }) => ring.signingKey().kid);
        expect(new Set(first).size).toBe(1);
        for (let day = 1; day <= ROTATIONS * 10; day++) {
          now += DAY;
          await everyoneAtOnce();
        }
        await settle();
        const files = (await readdir(dir)).filter((name) => name.includes('.pem'));
        expect(files).toHaveLength(1 + ROTATIONS);
        // Every replica agrees on the signing key, and it is not the first one.
        const signing = new Set(replicas.map(({ ring }) => ring.signingKey().kid));
        expect(signing.size).toBe(1);
        expect(signing.has(first[0]!)).toBe(false);
        const states = await stores[0]!.keyStates.listKeyStates();
        expect(states).toHaveLength(1 + ROTATIONS);
        expect(states.filter((record) => record.state === 'active')).toHaveLength(1);
      } finally {
        for (const store of stores) await store.close();
      }
    }, 120_000);
  });
}
