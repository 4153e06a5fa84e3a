/**
 * Registrations and ends fired at once through the registry, as the HTTP routes call it: every
 * answer must be the one the write would get alone (created, repeat, conflict naming the field,
 * first end wins, not found), and every stored row and request token must be there after.
 * Stores that group-commit (SQLite, PostgreSQL) or pipeline (Redis) run these writes together.
 *   describeConcurrentWrites('postgres', async () => ({ store }));
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Engine } from '../../src/executions/engine.js';
import { ExecutionRegistry, type Started } from '../../src/executions/registry.js';
import type { OpenedStore } from './store-suite.js';

const ENGINE: Engine = { name: 'concurrent-engine' };
const NEW = 60;
const ENDED = 10;
const REPEATED = 5;

export function describeConcurrentWrites(name: string, open: () => Promise<OpenedStore>): void {
  describe(`${name} store under concurrent registrations and ends`, () => {
    let opened: OpenedStore;
    let registry: ExecutionRegistry;

    beforeAll(async () => {
      opened = await open();
      registry = new ExecutionRegistry(opened.store, {
        maxDurationMs: 3_600_000,
        retentionMs: 600_000,
        statusListSize: 1024,
      });
    });
    afterAll(async () => {
      await opened?.store.close();
      await opened?.cleanup?.();
    });

    const input = (executionId: string, workflowName = 'Nightly sync') => ({
      executionId,
      workflowId: 'wf-concurrent',
      workflowName,
      mode: 'trigger',
      claims: { team: 'data' },
    });

    it('answers each write as it would be answered alone, and stores every one', async () => {
      const run = randomUUID();
      const ids = (prefix: string, count: number) =>
        Array.from({ length: count }, (_, index) => `${prefix}-${run}-${index}`);
      const fresh = ids('new', NEW);
      const toEnd = ids('end', ENDED);
      const toRepeat = ids('repeat', REPEATED);
      const before = new Map<string, Started>();
      for (const id of [...toEnd, ...toRepeat])
        before.set(id, await registry.start(ENGINE, input(id)));

      // All in one burst, in this order: the store sees them arrive together. The duplicates
      // come first, next to their originals, so that they take status entries of the block the
      // registry already holds and reach the store in the same turn.
      const duplicated = fresh.slice(0, 5);
      const burst = await Promise.allSettled([
        ...duplicated.flatMap((id) => [
          registry.start(ENGINE, input(id)),
          registry.start(ENGINE, input(id)),
        ]),
        ...fresh.slice(5).map((id) => registry.start(ENGINE, input(id))),
        ...toRepeat.map((id) => registry.start(ENGINE, input(id))), // same values
        registry.start(ENGINE, input(toRepeat[0]!, 'Another name')), // conflicting repeat
        ...toEnd.map((id) => registry.end(ENGINE, id, 'success')),
        ...toEnd.map((id) => registry.end(ENGINE, id, 'error')), // a second end: the first wins
        registry.end(ENGINE, `unknown-${run}`, 'success'),
      ]);
      const value = <T>(index: number) => {
        const settled = burst[index]!;
        if (settled.status === 'rejected') throw settled.reason;
        return settled.value as T;
      };
      let at = 0;
      const duplicateAnswers: Started[] = [];
      const freshAnswers = fresh.map((_, index) => {
        if (index < duplicated.length) duplicateAnswers.push(value<Started>(at + 1));
        const answer = value<Started>(at);
        at += index < duplicated.length ? 2 : 1;
        return answer;
      });
      const repeatAnswers = toRepeat.map(() => value<Started>(at++));
      const conflict = burst[at++]!;
      const firstEnds = toEnd.map(() => value<{ status: string }>(at++));
      const secondEnds = toEnd.map(() => value<{ status: string }>(at++));
      const unknown = burst[at++]!;
      expect(at).toBe(burst.length);

      // A registration and its duplicate: exactly one creates, both get the same record.
      fresh.forEach((id, index) => {
        const answer = freshAnswers[index]!;
        expect(answer.record).toMatchObject({ executionId: id, status: 'running' });
        const duplicate = duplicateAnswers[index];
        if (duplicate) {
          expect([answer.created, duplicate.created].sort()).toEqual([false, true]);
          expect(duplicate.record).toEqual(answer.record);
          expect(duplicate.requestToken).not.toBe(answer.requestToken);
        } else {
          expect(answer.created).toBe(true);
        }
      });
      toRepeat.forEach((id, index) => {
        expect(repeatAnswers[index]).toMatchObject({ created: false });
        expect(repeatAnswers[index]!.record).toEqual(before.get(id)!.record);
      });
      expect(conflict.status).toBe('rejected');
      expect((conflict as PromiseRejectedResult).reason).toMatchObject({
        code: 'ERR_CONFLICT',
        message: expect.stringMatching(/^workflow_name: /),
      });
      expect(firstEnds.map((record) => record.status)).toEqual(toEnd.map(() => 'success'));
      expect(secondEnds.map((record) => record.status)).toEqual(toEnd.map(() => 'success'));
      expect(unknown.status).toBe('rejected');
      expect((unknown as PromiseRejectedResult).reason).toMatchObject({ code: 'ERR_NOT_FOUND' });

      // Every row as answered, every request token handed out works (or is refused once ended).
      const store = opened.store;
      for (const answer of [...freshAnswers, ...duplicateAnswers, ...repeatAnswers]) {
        const id = answer.record.executionId;
        expect(await store.getExecution(ENGINE.name, id)).toEqual(answer.record);
        expect(await registry.authenticate(answer.requestToken)).toEqual(answer.record);
      }
      expect((await store.getExecution(ENGINE.name, toRepeat[0]!))?.workflowName).toBe(
        'Nightly sync',
      );
      for (const id of toEnd) {
        const stored = await store.getExecution(ENGINE.name, id);
        expect(stored).toMatchObject({ status: 'success', endedAt: expect.any(Number) });
        await expect(registry.authenticate(before.get(id)!.requestToken)).rejects.toMatchObject({
          code: 'ERR_INVALID_TOKEN',
        });
      }
      expect(await store.getExecution(ENGINE.name, `unknown-${run}`)).toBeUndefined();
      // The status entries of the running executions are distinct: no two share one.
      const entries = freshAnswers.map(({ record }) => JSON.stringify(record.statusEntry));
      expect(new Set(entries).size).toBe(NEW);
    });
  });
}
