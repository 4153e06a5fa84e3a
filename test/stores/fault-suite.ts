/**
 * Faults every shared store (PostgreSQL, Redis) must survive, against its real server:
 * the server down or hung -> every method rejects with ERR_STORE_UNAVAILABLE in bounded time;
 * the server back -> the same store object works again; an end that resolved before a crash
 * is still there afterwards.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ExecutionStore } from '../../src/executions/store.js';
import { ENGINE, execution } from './store-suite.js';

export interface FaultyPeer {
  /** Stops the server like a crash (no clean shutdown). */
  crash(): Promise<void>;
  restart(): Promise<void>;
  pause(): Promise<void>;
  resume(): Promise<void>;
}

/** Bound on how long any method may take to fail while the store is unreachable. */
const FAIL_WITHIN_MS = 5_000;

export function describeStoreFaults(
  name: string,
  open: () => Promise<ExecutionStore>,
  peer: () => FaultyPeer,
) {
  describe(`${name} store faults`, () => {
    let replicaA: ExecutionStore;
    let replicaB: ExecutionStore;

    beforeAll(async () => {
      [replicaA, replicaB] = await Promise.all([open(), open()]);
    });
    afterAll(async () => {
      await replicaA?.close();
      await replicaB?.close();
    });

    /** Every method of the store, as the HTTP routes would call it during an outage. */
    const everyMethod = (store: ExecutionStore, executionId: string) => ({
      insertExecution: () => store.insertExecution(execution()),
      getExecution: () => store.getExecution(ENGINE, executionId),
      endExecution: () => store.endExecution(ENGINE, executionId, 'success', Date.now()),
      addRequestToken: () =>
        store.addRequestToken('t-fault', {
          engine: ENGINE,
          executionId,
          secretHash: randomBytes(32),
        }),
      getRequestToken: () => store.getRequestToken('t-fault'),
      collectExecutions: () => store.collectExecutions(0),
      listKeyStates: () => store.keyStates.listKeyStates(),
      putKeyState: () =>
        store.keyStates.putKeyState({ kid: 'k', ref: 'r', state: 'pending', publishedAt: 1 }),
      acquireLease: () => store.keyStates.acquireLease('fault', 'a', 1000),
      releaseLease: () => store.keyStates.releaseLease('fault', 'a'),
      ping: () => store.ping(),
    });

    async function expectUnavailable(methods: Record<string, () => Promise<unknown>>) {
      const outcomes = await Promise.all(
        Object.entries(methods).map(async ([method, call]) => {
          const started = performance.now();
          const error = await call().then(
            () => undefined,
            (err: unknown) => err as { code?: string; retryAfter?: number },
          );
          return {
            method,
            code: error?.code,
            retryAfter: error?.retryAfter,
            ms: performance.now() - started,
          };
        }),
      );
      for (const outcome of outcomes) {
        expect(outcome, outcome.method).toMatchObject({ code: 'ERR_STORE_UNAVAILABLE' });
        expect(outcome.retryAfter, outcome.method).toBeGreaterThan(0);
        expect(outcome.ms, outcome.method).toBeLessThan(FAIL_WITHIN_MS);
      }
    }

    it('fails fast while the server is down, recovers when it returns, and keeps an end that resolved', async () => {
      const ended = execution();
      const running = execution();
      await replicaA.insertExecution(ended);
      await replicaA.insertExecution(running);
      await replicaA.addRequestToken(`t-${running.executionId}`, {
        engine: running.engine,
        executionId: running.executionId,
        secretHash: randomBytes(32),
      });
      // Ended through the other replica; resolving means durable.
      expect(
        (await replicaB.endExecution(ended.engine, ended.executionId, 'canceled', Date.now()))
          ?.status,
      ).toBe('canceled');

      await peer().crash();
      await expectUnavailable(everyMethod(replicaA, running.executionId));
      await expectUnavailable(everyMethod(replicaB, running.executionId));

      await peer().restart();
      await waitUntil(() => replicaA.ping());
      await waitUntil(() => replicaB.ping());
      expect((await replicaA.getExecution(ended.engine, ended.executionId))?.status).toBe(
        'canceled',
      );
      expect((await replicaB.getExecution(running.engine, running.executionId))?.status).toBe(
        'running',
      );
      expect((await replicaB.getRequestToken(`t-${running.executionId}`))?.executionId).toBe(
        running.executionId,
      );
      expect(
        (await replicaB.endExecution(running.engine, running.executionId, 'success', Date.now()))
          ?.status,
      ).toBe('success');
      expect((await replicaA.getExecution(running.engine, running.executionId))?.status).toBe(
        'success',
      );
    });

    it('gives up within the bound when the server hangs, and works once it resumes', async () => {
      const record = execution();
      await replicaA.insertExecution(record);
      await peer().pause();
      try {
        await expectUnavailable({
          getExecution: () => replicaA.getExecution(record.engine, record.executionId),
          getRequestToken: () => replicaA.getRequestToken('t-none'),
          endExecution: () =>
            replicaA.endExecution(record.engine, record.executionId, 'success', Date.now()),
          ping: () => replicaB.ping(),
        });
      } finally {
        await peer().resume();
      }
      await waitUntil(() => replicaA.ping());
      // The end sent during the hang either committed or not; both replicas agree on which.
      const status = (await replicaA.getExecution(record.engine, record.executionId))?.status;
      expect(['running', 'success']).toContain(status);
      expect((await replicaB.getExecution(record.engine, record.executionId))?.status).toBe(status);
      expect(
        (await replicaA.endExecution(record.engine, record.executionId, 'error', Date.now()))
          ?.status,
      ).toBe(status === 'running' ? 'error' : status);
    });
  });
}

async function waitUntil(check: () => Promise<unknown>, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      await check();
      return;
    } catch (err) {
      if (Date.now() > deadline) throw err;
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  }
}
