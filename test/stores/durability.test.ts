/**
 * Group commit keeps every acknowledgement durable, on every store: registrations and ends sent
 * together share one transaction (SQLite), one batch (PostgreSQL) or one pipeline (Redis), and
 * none is answered before its commit. The issuer is killed (SIGKILL, no shutdown of any kind)
 * right after the last answer, and every registration and end it acknowledged is there after a
 * restart on the same store. An answer sent before its write committed would be lost with the
 * process and fail here.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningIssuer, type StartedExecution, startIssuer } from '../e2e/harness.js';
import { type PostgresPeer, startPostgres } from '../peers/postgres.js';
import { type RedisPeer, startRedis } from '../peers/redis.js';

let postgres: PostgresPeer;
let redis: RedisPeer;
const dirs: string[] = [];
const issuers: RunningIssuer[] = [];
beforeAll(async () => {
  [postgres, redis] = await Promise.all([startPostgres(), startRedis()]);
}, 120_000);
afterAll(async () => {
  for (const issuer of issuers) await issuer.stop();
  for (const dir of dirs) await rm(dir, { recursive: true, force: true });
  await postgres?.close();
  await redis?.close();
});

/** WFID_STORE for each store; SQLite's default file lives in the data dir both issuers share. */
const STORES: Record<string, () => Record<string, string>> = {
  sqlite: () => ({}),
  postgres: () => ({ WFID_STORE: postgres.url }),
  redis: () => ({ WFID_STORE: redis.url }),
};

for (const [kind, storeEnv] of Object.entries(STORES)) {
  describe(`acknowledged writes survive SIGKILL (${kind})`, () => {
    it('finds every acknowledged registration, request token and end after a restart', async () => {
      // One data dir for both issuers: the second signs with the same keys.
      const dataDir = await mkdtemp(join(tmpdir(), `wfid-kill-${kind}-`));
      dirs.push(dataDir);
      const env = storeEnv();
      const first = await startIssuer({ dataDir, env });
      issuers.push(first);
      const register = (n: number) => first.startExecution({ execution_id: `kill-${kind}-${n}` });
      const registered = await Promise.all(Array.from({ length: 40 }, (_, n) => register(n)));
      // Ends of the first half, sent together with 40 more registrations.
      const ending = registered.slice(0, 20);
      const [ends, more] = await Promise.all([
        Promise.all(ending.map((execution) => first.endExecution(execution.execution_id, 'error'))),
        Promise.all(Array.from({ length: 40 }, (_, n) => register(40 + n))),
      ]);
      expect(ends.map((response) => response.status)).toEqual(ending.map(() => 200));
      first.process.kill('SIGKILL');
      await new Promise((exited) => first.process.once('exit', exited));

      const second = await startIssuer({ dataDir, env });
      issuers.push(second);
      const status = async (execution: StartedExecution) => {
        const response = await second.fetch(`/v1/executions/${execution.execution_id}`, {
          headers: { authorization: `Bearer ${second.engineToken}` },
        });
        expect(response.status).toBe(200);
        return ((await response.json()) as { status: string }).status;
      };
      for (const execution of ending) expect(await status(execution)).toBe('error');
      const running = [...registered.slice(20), ...more];
      expect(running).toHaveLength(60);
      for (const execution of running) {
        expect(await status(execution)).toBe('running');
        // Its request token was stored in the same write as the execution.
        expect((await second.mintResponse(execution.request_token, 'vault')).status).toBe(200);
      }
    });
  });
}
