/**
 * Two real `wfid serve` processes behind one issuer URL, sharing a real PostgreSQL or Redis
 * store and one key directory, as replicas behind a load balancer would.
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createRemoteJWKSet, jwtVerify } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { until } from '../peers/net.js';
import { startPostgres } from '../peers/postgres.js';
import { startRedis } from '../peers/redis.js';
import { type RunningIssuer, type StartedExecution, startIssuer } from './harness.js';

interface SharedStore {
  url: string;
  crash(): Promise<void>;
  restart(): Promise<void>;
  close(): Promise<void>;
}

const STORES: Record<string, () => Promise<SharedStore>> = {
  postgres: async () => {
    const pg = await startPostgres();
    return {
      url: pg.url,
      crash: () => pg.stop('immediate'),
      restart: () => pg.restart(),
      close: () => pg.close(),
    };
  },
  redis: async () => {
    const redis = await startRedis();
    return {
      url: redis.url,
      crash: () => redis.stop('kill'),
      restart: () => redis.restart(),
      close: () => redis.close(),
    };
  },
};

/** Whether /readyz answers `status`; an unreachable replica does not (yet). */
const readyzIs = (replica: RunningIssuer, status: number) =>
  replica.fetch('/readyz').then(
    (response) => response.status === status,
    () => false,
  );

/** The public URL both replicas share, as behind a load balancer; `iss` of every token. */
const ISSUER = 'https://wfid.replicas.test';

for (const [name, startStore] of Object.entries(STORES)) {
  describe(`two replicas sharing a ${name} store`, () => {
    let store: SharedStore;
    let keysDir: string;
    let a: RunningIssuer;
    let b: RunningIssuer;

    beforeAll(async () => {
      store = await startStore();
      keysDir = await mkdtemp(join(tmpdir(), 'wfid-replica-keys-'));
      const env = {
        WFID_STORE: store.url,
        WFID_KEYS: `file://${keysDir}`,
        WFID_ISSUER: ISSUER,
        WFID_ENGINE_TOKEN: `wfe_replicas_${name}_${randomBytes(24).toString('base64url')}`,
      };
      // A creates the first key; B then loads the same one.
      a = await startIssuer({ env });
      b = await startIssuer({ env });
    });
    afterAll(async () => {
      await a?.stop();
      await b?.stop();
      await store?.close();
      if (keysDir) await rm(keysDir, { recursive: true, force: true });
    });

    const introspect = (replica: RunningIssuer, token: string) =>
      replica.fetch('/v1/introspect', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ token }),
      });
    const active = async (replica: RunningIssuer, token: string) => {
      const response = await introspect(replica, token);
      expect(response.status).toBe(200);
      return ((await response.json()) as { active: boolean }).active;
    };
    const mintStatus = async (replica: RunningIssuer, requestToken: string) =>
      (
        await replica.fetch('/v1/token', {
          method: 'POST',
          headers: { authorization: `Bearer ${requestToken}`, 'content-type': 'application/json' },
          body: JSON.stringify({ audience: 'replica-test' }),
        })
      ).status;
    const executionStatus = async (replica: RunningIssuer, executionId: string) => {
      const response = await replica.fetch(`/v1/executions/${encodeURIComponent(executionId)}`, {
        headers: { authorization: `Bearer ${replica.engineToken}` },
      });
      expect(response.status).toBe(200);
      return ((await response.json()) as { status: string }).status;
    };

    it('starts on one replica, mints on the other, and an end on either is seen by both at once', async () => {
      const execution = await a.startExecution({ workflow_id: 'wf-replicas' });
      const { value } = await b.mint(execution.request_token, 'sts.example');
      const jwks = createRemoteJWKSet(new URL(`${a.url}/.well-known/jwks.json`));
      const { payload } = await jwtVerify(value, jwks, { issuer: ISSUER, audience: 'sts.example' });
      expect(payload.execution_id).toBe(execution.execution_id);
      expect(await active(a, value)).toBe(true);
      expect(await active(b, value)).toBe(true);

      expect((await a.endExecution(execution.execution_id, 'success')).status).toBe(200);
      // No replica caches execution status: the very next request on the other one sees the end.
      expect(await active(b, value)).toBe(false);
      expect(await mintStatus(b, execution.request_token)).toBe(401);
      expect(await executionStatus(b, execution.execution_id)).toBe('success');
    });

    it('answers 503 while the store is down, recovers when it returns, and loses no acknowledged end', async () => {
      const replicas = [a, b];
      const executions: { started: StartedExecution; token: string }[] = [];
      for (let index = 0; index < 8; index++) {
        const started = await replicas[index % 2]!.startExecution({ workflow_id: 'wf-load' });
        const { value } = await replicas[(index + 1) % 2]!.mint(started.request_token, 'load');
        executions.push({ started, token: value });
      }
      const endedBefore = executions.slice(0, 3);
      for (const { started } of endedBefore) {
        expect((await b.endExecution(started.execution_id)).status).toBe(200);
      }
      const running = executions.slice(3);

      // Load on both replicas throughout: mints and introspections of running executions.
      const statuses = new Map<number, number>();
      let sawActiveForEnded = false;
      let loading = true;
      const worker = async (seed: number) => {
        for (let round = seed; loading; round++) {
          const replica = replicas[round % 2]!;
          const target = running[round % running.length]!;
          const mint = await mintStatus(replica, target.started.request_token).catch(() => 0);
          statuses.set(mint, (statuses.get(mint) ?? 0) + 1);
          const ended = endedBefore[round % endedBefore.length]!;
          const response = await introspect(replica, ended.token).catch(() => undefined);
          statuses.set(response?.status ?? 0, (statuses.get(response?.status ?? 0) ?? 0) + 1);
          if (response?.status === 200 && ((await response.json()) as { active: boolean }).active) {
            sawActiveForEnded = true;
          }
        }
      };
      const workers = [0, 1, 2, 3].map(worker);

      await store.crash();
      for (const replica of replicas) {
        await until(() => readyzIs(replica, 503), 10_000);
        // Publicly only ready or not per component; why goes to the log.
        expect(await (await replica.fetch('/readyz')).json()).toEqual({
          status: 'not_ready',
          keys: { ready: true },
          store: { ready: false },
        });
        // The log arrives through the child's stdout pipe: wait for it rather than race it.
        await until(
          async () => /"component":"store","reason":"ERR_STORE_UNAVAILABLE/.test(replica.logs()),
          5_000,
        );
        const mint = await replica.fetch('/v1/token', {
          method: 'POST',
          headers: {
            authorization: `Bearer ${running[0]!.started.request_token}`,
            'content-type': 'application/json',
          },
          body: JSON.stringify({ audience: 'during-outage' }),
        });
        expect(mint.status).toBe(503);
        expect(Number(mint.headers.get('retry-after'))).toBeGreaterThan(0);
        expect((await introspect(replica, running[0]!.token)).status).toBe(503);
      }
      // An end during the outage is either refused (503) or, if answered 200, durable.
      const duringOutage = running[0]!;
      const outageEnd = (await a.endExecution(duringOutage.started.execution_id, 'canceled'))
        .status;
      expect([200, 503]).toContain(outageEnd);

      await store.restart();
      for (const replica of replicas) {
        await until(() => readyzIs(replica, 200), 30_000);
      }
      loading = false;
      await Promise.all(workers);

      for (const replica of replicas) {
        for (const { started, token } of endedBefore) {
          expect(await executionStatus(replica, started.execution_id)).toBe('success');
          expect(await active(replica, token)).toBe(false);
          expect(await mintStatus(replica, started.request_token)).toBe(401);
        }
        for (const { started, token } of running.slice(1)) {
          expect(await active(replica, token)).toBe(true);
          expect(await mintStatus(replica, started.request_token)).toBe(200);
        }
        if (outageEnd === 200)
          expect(await executionStatus(replica, duringOutage.started.execution_id)).toBe(
            'canceled',
          );
      }
      expect(sawActiveForEnded).toBe(false);
      // Only successes, refusals of ended executions and 503s: no 500, no hung request.
      expect([...statuses.keys()].every((status) => [200, 401, 503].includes(status))).toBe(true);
      // The 503s during the outage are asserted above, request by request. The background load
      // need not see one: a request in flight at the crash waits for the driver to reconnect
      // (ioredis resends unanswered commands) and may succeed once the store is back.
      expect(statuses.get(200)).toBeGreaterThan(0);
    });
  });
}
