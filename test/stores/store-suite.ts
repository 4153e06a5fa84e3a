/**
 * The one behaviour suite every execution store passes (memory, SQLite, PostgreSQL, Redis).
 *   describeStoreSuite('sqlite', async () => ({ store, cleanup }));
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ExecutionRecord } from '../../src/executions/execution.js';
import type { ExecutionStore } from '../../src/executions/store.js';

export interface OpenedStore {
  store: ExecutionStore;
  cleanup?: () => Promise<void>;
}

/** The engine the suite's executions belong to unless a test names another. */
export const ENGINE = 'suite-engine';

export function execution(overrides: Partial<ExecutionRecord> = {}): ExecutionRecord {
  const now = Date.now();
  return {
    engine: ENGINE,
    executionId: `exec-${randomUUID()}`,
    workflowId: 'wf-1',
    workflowName: 'Nightly sync',
    mode: 'trigger',
    claims: { team: 'data', tags: ['a', 'b'] },
    status: 'running',
    startedAt: now,
    deadline: now + 3_600_000,
    ...overrides,
  };
}

export function describeStoreSuite(name: string, open: () => Promise<OpenedStore>): void {
  describe(`${name} execution store`, () => {
    let opened: OpenedStore;
    let store: ExecutionStore;

    beforeAll(async () => {
      opened = await open();
      store = opened.store;
    });
    afterAll(async () => {
      await store?.close();
      await opened?.cleanup?.();
    });

    it('inserts once and returns the stored record on a second insert', async () => {
      const record = execution();
      expect(await store.insertExecution(record)).toEqual({ inserted: true, record });
      const again = await store.insertExecution({ ...record, workflowId: 'other' });
      expect(again.inserted).toBe(false);
      expect(again.record).toEqual(record);
      expect(await store.getExecution(record.engine, record.executionId)).toEqual(record);
    });

    it('stores a new execution with its request token in one write, and no token on a repeat', async () => {
      const record = execution();
      const secretHash = randomBytes(32);
      const tokenId = `t-new-${record.executionId}`;
      expect(await store.insertExecution(record, { tokenId, secretHash })).toEqual({
        inserted: true,
        record,
      });
      const stored = await store.getRequestToken(tokenId);
      expect(stored).toMatchObject({ engine: ENGINE, executionId: record.executionId });
      expect(stored?.execution).toEqual(record);
      expect(Buffer.from(stored!.secretHash).equals(secretHash)).toBe(true);
      const repeat = await store.insertExecution(
        { ...record, workflowId: 'other' },
        { tokenId: `t-repeat-${record.executionId}`, secretHash },
      );
      expect(repeat).toEqual({ inserted: false, record });
      expect(await store.getRequestToken(`t-repeat-${record.executionId}`)).toBeUndefined();
    });

    it('takes concurrent writes together, each answered with its own outcome', async () => {
      const records = Array.from({ length: 20 }, () => execution());
      const outcomes = await Promise.all([
        ...records.map((record) =>
          store.insertExecution(record, {
            tokenId: `t-many-${record.executionId}`,
            secretHash: randomBytes(32),
          }),
        ),
        // The same id twice in one group: one insert wins, the other sees it.
        store.insertExecution(records[0]!),
        store.endExecution(ENGINE, 'never-registered', 'success', Date.now()),
      ]);
      expect(
        outcomes
          .slice(0, 20)
          .map((outcome) => outcome && 'inserted' in outcome && outcome.inserted),
      ).toEqual(records.map(() => true));
      expect(outcomes[20]).toEqual({ inserted: false, record: records[0] });
      expect(outcomes[21]).toBeUndefined();
      const ended = await Promise.all(
        records.map((record) =>
          store.endExecution(ENGINE, record.executionId, 'success', Date.now()),
        ),
      );
      expect(ended.map((record) => record?.status)).toEqual(records.map(() => 'success'));
      for (const record of records) {
        expect(
          (await store.getRequestToken(`t-many-${record.executionId}`))?.execution?.status,
        ).toBe('success');
      }
    });

    it('answers undefined for an unknown execution', async () => {
      expect(await store.getExecution(ENGINE, 'nope')).toBeUndefined();
      expect(await store.endExecution(ENGINE, 'nope', 'success', Date.now())).toBeUndefined();
    });

    it('keeps each engine its own namespace: the same id in two engines are two executions', async () => {
      const id = `shared-${randomUUID()}`;
      const mine = execution({ engine: 'engine-a', executionId: id, workflowId: 'wf-a' });
      const theirs = execution({ engine: 'engine-b', executionId: id, workflowId: 'wf-b' });
      expect((await store.insertExecution(mine)).inserted).toBe(true);
      expect(await store.insertExecution(theirs)).toEqual({ inserted: true, record: theirs });
      expect(await store.getExecution('engine-a', id)).toEqual(mine);
      expect(await store.getExecution('engine-b', id)).toEqual(theirs);
      expect(await store.getExecution('engine-c', id)).toBeUndefined();
      expect(await store.endExecution('engine-c', id, 'success', Date.now())).toBeUndefined();

      // Ending one engine's execution leaves the other's running, and each token finds its own.
      for (const record of [mine, theirs]) {
        await store.addRequestToken(`t-${record.engine}-${id}`, {
          engine: record.engine,
          executionId: id,
          secretHash: randomBytes(32),
        });
      }
      expect((await store.endExecution('engine-a', id, 'canceled', Date.now()))?.status).toBe(
        'canceled',
      );
      expect((await store.getExecution('engine-b', id))?.status).toBe('running');
      const tokenA = await store.getRequestToken(`t-engine-a-${id}`);
      const tokenB = await store.getRequestToken(`t-engine-b-${id}`);
      expect(tokenA).toMatchObject({ engine: 'engine-a', execution: { status: 'canceled' } });
      expect(tokenB).toMatchObject({
        engine: 'engine-b',
        execution: { workflowId: 'wf-b', status: 'running' },
      });

      // Collecting the ended one leaves the other engine's execution and token in place.
      await store.collectExecutions(Date.now() + 1);
      expect(await store.getExecution('engine-a', id)).toBeUndefined();
      expect(await store.getRequestToken(`t-engine-a-${id}`)).toBeUndefined();
      expect(await store.getExecution('engine-b', id)).toEqual(theirs);
      expect((await store.getRequestToken(`t-engine-b-${id}`))?.execution).toEqual(theirs);
    });

    it('keeps ids and engine names that hold separators apart (no id names another key)', async () => {
      const base = `sep-${randomUUID()}`;
      // Each pair would share a key if ids were joined raw with ':' (or engine and id were).
      const records = [
        execution({ engine: 'x', executionId: base }),
        execution({ engine: 'x', executionId: `${base}:tokens` }),
        execution({ engine: 'x:y', executionId: base }),
        execution({ engine: 'x', executionId: `y:${base}` }),
        execution({ engine: 'x', executionId: `${base}:a:b` }),
        execution({ engine: 'x:a', executionId: `b:${base}` }),
      ];
      for (const record of records) {
        expect((await store.insertExecution(record)).inserted).toBe(true);
        await store.addRequestToken(`t-${randomUUID()}`, {
          engine: record.engine,
          executionId: record.executionId,
          secretHash: randomBytes(32),
        });
      }
      for (const record of records)
        expect(await store.getExecution(record.engine, record.executionId)).toEqual(record);
      await store.endExecution('x', `${base}:tokens`, 'error', Date.now());
      const statuses = await Promise.all(
        records.map(async (r) => (await store.getExecution(r.engine, r.executionId))?.status),
      );
      expect(statuses).toEqual(['running', 'error', 'running', 'running', 'running', 'running']);
    });

    it('ends a running execution once; a second end keeps the first status', async () => {
      const record = execution();
      await store.insertExecution(record);
      const endedAt = Date.now();
      expect(await store.endExecution(record.engine, record.executionId, 'error', endedAt)).toEqual(
        {
          ...record,
          status: 'error',
          endedAt,
        },
      );
      const second = await store.endExecution(
        record.engine,
        record.executionId,
        'success',
        endedAt + 5,
      );
      expect(second?.status).toBe('error');
      expect(second?.endedAt).toBe(endedAt);
    });

    it('keeps request tokens by id with their secret hash', async () => {
      const record = execution();
      await store.insertExecution(record);
      const secretHash = randomBytes(32);
      await store.addRequestToken(`tok-1-${record.executionId}`, {
        engine: record.engine,
        executionId: record.executionId,
        secretHash,
      });
      const stored = await store.getRequestToken(`tok-1-${record.executionId}`);
      expect(stored?.executionId).toBe(record.executionId);
      // The execution comes with the token, in the same lookup.
      expect(stored?.execution).toEqual(record);
      expect(Buffer.from(stored!.secretHash).equals(secretHash)).toBe(true);
      expect(await store.getRequestToken('unknown')).toBeUndefined();
    });

    it('collects executions ended (or past deadline) before the cutoff, with their request tokens', async () => {
      const now = Date.now();
      const old = execution({ startedAt: now - 10_000 });
      const recent = execution();
      const stale = execution({ startedAt: now - 20_000, deadline: now - 9_000 });
      const running = execution();
      for (const record of [old, recent, stale, running]) await store.insertExecution(record);
      await store.endExecution(old.engine, old.executionId, 'success', now - 8_000);
      await store.endExecution(recent.engine, recent.executionId, 'success', now);
      await store.addRequestToken(`t-${old.executionId}`, {
        engine: old.engine,
        executionId: old.executionId,
        secretHash: randomBytes(32),
      });
      expect(await store.collectExecutions(now - 1_000)).toBeGreaterThanOrEqual(2);
      expect(await store.getExecution(old.engine, old.executionId)).toBeUndefined();
      expect(await store.getExecution(stale.engine, stale.executionId)).toBeUndefined();
      expect(await store.getRequestToken(`t-${old.executionId}`)).toBeUndefined();
      expect(await store.getExecution(recent.engine, recent.executionId)).toBeDefined();
      expect(await store.getExecution(running.engine, running.executionId)).toBeDefined();
    });

    it('stores key states by kid and replaces them', async () => {
      const kid = `kid-${randomUUID()}`;
      await store.keyStates.putKeyState({ kid, ref: 'r1', state: 'pending', publishedAt: 1 });
      await store.keyStates.putKeyState({
        kid,
        ref: 'r1',
        state: 'active',
        publishedAt: 1,
        activatedAt: 2,
      });
      const record = (await store.keyStates.listKeyStates()).find((item) => item.kid === kid);
      expect(record).toEqual({ kid, ref: 'r1', state: 'active', publishedAt: 1, activatedAt: 2 });
    });

    it('grants a lease to one holder at a time until it expires or is released', async () => {
      const lease = `lease-${randomUUID()}`;
      expect(await store.keyStates.acquireLease(lease, 'a', 60_000)).toBe(true);
      expect(await store.keyStates.acquireLease(lease, 'b', 60_000)).toBe(false);
      expect(await store.keyStates.acquireLease(lease, 'a', 60_000)).toBe(true);
      await store.keyStates.releaseLease(lease, 'a');
      expect(await store.keyStates.acquireLease(lease, 'b', 1)).toBe(true);
      await new Promise((resolve) => setTimeout(resolve, 20));
      expect(await store.keyStates.acquireLease(lease, 'a', 60_000)).toBe(true);
    });

    it('reserves status entries in order, never twice, opening a new list when the newest is full', async () => {
      // Concurrent callers (pooled connections, one script at a time, one write lock) race here.
      const blocks = await Promise.all(
        Array.from({ length: 20 }, () => store.statusLists.reserveStatusEntries(3, 8, 1_000)),
      );
      const sizes = new Map(
        (await store.statusLists.listStatusLists()).map((info) => [info.list, info.size]),
      );
      const entries = blocks.flatMap((block) => {
        expect(block.count).toBeGreaterThanOrEqual(1);
        expect(block.count).toBeLessThanOrEqual(3);
        expect(block.idx + block.count).toBeLessThanOrEqual(sizes.get(block.list)!);
        return Array.from({ length: block.count }, (_, i) => ({
          list: block.list,
          idx: block.idx + i,
        }));
      });
      expect(new Set(entries.map((entry) => `${entry.list}:${entry.idx}`)).size).toBe(
        entries.length,
      );
      expect(entries.length).toBeGreaterThanOrEqual(40);
      const ordered = [...entries].sort((a, b) => a.list - b.list || a.idx - b.idx);
      const first = ordered[0]!;
      // Contiguous from the first: a full list is followed by a fresh one starting at index 0.
      let previous = first;
      for (const entry of ordered.slice(1)) {
        if (entry.list === previous.list) expect(entry.idx).toBe(previous.idx + 1);
        else {
          expect(entry.list).toBe(previous.list + 1);
          expect(previous.idx).toBe(sizes.get(previous.list)! - 1);
          expect(entry.idx).toBe(0);
        }
        previous = entry;
      }
      const lists = await store.statusLists.listStatusLists();
      const opened = lists.filter((info) => info.list > first.list);
      expect(opened.length).toBeGreaterThanOrEqual(4);
      for (const info of opened) expect(info).toMatchObject({ size: 8, createdAt: 1_000 });
      expect(lists.map((info) => info.list)).toEqual(
        [...lists.map((info) => info.list)].sort((a, b) => a - b),
      );

      // A block stops where its list ends; a new size applies to lists opened from now on.
      const rest = await store.statusLists.reserveStatusEntries(1_000, 16, 2_000);
      const listedSize = (await store.statusLists.listStatusLists()).find(
        (info) => info.list === rest.list,
      )!.size;
      expect(rest.idx + rest.count).toBe(listedSize);
      if (rest.list === previous.list) {
        expect(rest.idx).toBe(previous.idx + 1);
        expect(listedSize).toBe(8);
      } else {
        expect(rest).toEqual({ list: previous.list + 1, idx: 0, count: 16 });
      }
    });

    it('reads the running entries of a list from the executions, ended ones excluded', async () => {
      const now = Date.now();
      const records: ExecutionRecord[] = [];
      for (let index = 0; index < 3; index++) {
        const { list, idx } = await store.statusLists.reserveStatusEntries(1, 1024, now);
        records.push(
          execution({ statusEntry: { list, idx }, deadline: now + 1_000 * (index + 1) }),
        );
      }
      // Past its deadline but still stored as running: the caller judges the deadline.
      const overdue = execution({
        statusEntry: await store.statusLists
          .reserveStatusEntries(1, 1024, now)
          .then(({ list, idx }) => ({ list, idx })),
        deadline: now - 1_000,
      });
      for (const record of [...records, overdue]) {
        expect((await store.insertExecution(record)).record).toEqual(record);
        expect(await store.getExecution(record.engine, record.executionId)).toEqual(record);
      }
      await store.endExecution(records[1]!.engine, records[1]!.executionId, 'success', now);
      const list = records[0]!.statusEntry!.list;
      const read = await store.statusLists.readStatusList(list);
      const info = (await store.statusLists.listStatusLists()).find((item) => item.list === list);
      expect(read?.size).toBe(info?.size);
      const expected = [records[0]!, records[2]!, overdue]
        .filter((record) => record.statusEntry!.list === list)
        .map((record) => ({ idx: record.statusEntry!.idx, deadline: record.deadline }));
      expect([...read!.running].sort((a, b) => a.idx - b.idx)).toEqual(expected);
      expect(read!.running.some((entry) => entry.idx === records[1]!.statusEntry!.idx)).toBe(false);
      // Read twice: pruning on the way (Redis) changes nothing that is read.
      expect((await store.statusLists.readStatusList(list))?.running.length).toBe(
        read!.running.length,
      );

      // Once collected, an execution's entry is gone from the list too.
      await store.endExecution(
        records[0]!.engine,
        records[0]!.executionId,
        'success',
        now - 60_000,
      );
      await store.collectExecutions(now - 30_000);
      const collected = await store.statusLists.readStatusList(list);
      expect(collected!.running.some((entry) => entry.idx === records[0]!.statusEntry!.idx)).toBe(
        false,
      );
      expect(await store.statusLists.readStatusList(9_999_999)).toBeUndefined();
    });

    it('pauses and resumes an execution only from the expected state, before its deadline', async () => {
      const now = Date.now();
      const record = execution({ deadline: now + 60_000 });
      await store.insertExecution(record);
      const waiting = await store.moveExecution(
        ENGINE,
        record.executionId,
        'running',
        'waiting',
        now + 3_600_000,
        now,
      );
      expect(waiting).toEqual({ ...record, status: 'waiting', deadline: now + 3_600_000 });
      expect(await store.getExecution(ENGINE, record.executionId)).toEqual(waiting);
      // Pausing again, or resuming something not waiting, changes nothing.
      expect(
        await store.moveExecution(ENGINE, record.executionId, 'running', 'waiting', now + 5, now),
      ).toEqual(waiting);
      const resumed = await store.moveExecution(
        ENGINE,
        record.executionId,
        'waiting',
        'running',
        now + 120_000,
        now + 1_000,
      );
      expect(resumed).toEqual({ ...record, status: 'running', deadline: now + 120_000 });
      expect(
        await store.moveExecution(ENGINE, record.executionId, 'waiting', 'running', now + 9, now),
      ).toEqual(resumed);
      // Past its deadline nothing moves; unknown executions answer undefined.
      expect(
        await store.moveExecution(
          ENGINE,
          record.executionId,
          'running',
          'waiting',
          now,
          now + 120_000,
        ),
      ).toEqual(resumed);
      expect(
        await store.moveExecution(ENGINE, 'nope', 'running', 'waiting', now, now),
      ).toBeUndefined();
      // The request token lookup sees the move.
      await store.addRequestToken(`tok-w-${record.executionId}`, {
        engine: ENGINE,
        executionId: record.executionId,
        secretHash: randomBytes(32),
      });
      await store.moveExecution(ENGINE, record.executionId, 'running', 'waiting', now + 7_000, now);
      expect((await store.getRequestToken(`tok-w-${record.executionId}`))?.execution?.status).toBe(
        'waiting',
      );
      // A waiting execution can end (canceled while it waits), once.
      expect((await store.endExecution(ENGINE, record.executionId, 'canceled', now))?.status).toBe(
        'canceled',
      );
      expect(
        await store.moveExecution(ENGINE, record.executionId, 'waiting', 'running', now + 9, now),
      ).toMatchObject({ status: 'canceled', endedAt: now });
    });

    it('keeps a waiting execution out of its status list, and back in when it resumes', async () => {
      const now = Date.now();
      const { list, idx } = await store.statusLists.reserveStatusEntries(1, 1024, now);
      const record = execution({ statusEntry: { list, idx }, deadline: now + 60_000 });
      await store.insertExecution(record);
      const listed = async () =>
        (await store.statusLists.readStatusList(list))!.running.some((entry) => entry.idx === idx);
      expect(await listed()).toBe(true);
      await store.moveExecution(
        ENGINE,
        record.executionId,
        'running',
        'waiting',
        now + 3_600_000,
        now,
      );
      expect(await listed()).toBe(false);
      // Read twice: a waiting entry is not pruned (Redis), it may resume.
      expect(await listed()).toBe(false);
      await store.moveExecution(
        ENGINE,
        record.executionId,
        'waiting',
        'running',
        now + 90_000,
        now,
      );
      expect((await store.statusLists.readStatusList(list))!.running).toContainEqual({
        idx,
        deadline: now + 90_000,
      });
    });

    it('collects a waiting execution only after its wait deadline', async () => {
      const now = Date.now();
      const record = execution({ deadline: now + 1_000 });
      await store.insertExecution(record);
      await store.moveExecution(
        ENGINE,
        record.executionId,
        'running',
        'waiting',
        now + 600_000,
        now,
      );
      await store.collectExecutions(now + 300_000);
      expect((await store.getExecution(ENGINE, record.executionId))?.status).toBe('waiting');
      await store.collectExecutions(now + 600_001);
      expect(await store.getExecution(ENGINE, record.executionId)).toBeUndefined();
    });

    it('answers ping', async () => {
      await expect(store.ping()).resolves.toBeUndefined();
    });
  });
}
