import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { WfidError } from '../../src/errors.js';
import type { Engine } from '../../src/executions/engine.js';
import type { StatusEntry } from '../../src/executions/execution.js';
import { ExecutionRegistry } from '../../src/executions/registry.js';
import type { ExecutionStore } from '../../src/executions/store.js';
import { MemoryStore } from '../../src/executions/stores/memory.js';
import { SqliteStore } from '../../src/executions/stores/sqlite.js';

const ENGINE: Engine = { name: 'default' };

describe('ExecutionRegistry', () => {
  const make = () => {
    let now = 1_000_000;
    const registry = new ExecutionRegistry(new MemoryStore(), {
      maxDurationMs: 3_600_000,
      maxWaitMs: 86_400_000,
      retentionMs: 600_000,
      statusListSize: 8,
      now: () => now,
    });
    return { registry, advance: (ms: number) => (now += ms) };
  };

  it('authenticates request tokens of running executions only', async () => {
    const { registry } = make();
    const { requestToken, record } = await registry.start(ENGINE, {
      executionId: 'e',
      workflowId: 'w',
    });
    expect((await registry.authenticate(requestToken)).executionId).toBe(record.executionId);
    await registry.end(ENGINE, 'e', 'success');
    await expect(registry.authenticate(requestToken)).rejects.toMatchObject({
      code: 'ERR_INVALID_TOKEN',
    });
  });

  it('gives executions a deadline from max_duration_s, capped by config; past it they count as ended', async () => {
    const { registry, advance } = make();
    const short = await registry.start(ENGINE, {
      executionId: 's',
      workflowId: 'w',
      maxDurationS: 30,
    });
    expect(short.record.deadline - short.record.startedAt).toBe(30_000);
    const long = await registry.start(ENGINE, {
      executionId: 'l',
      workflowId: 'w',
      maxDurationS: 999_999,
    });
    expect(long.record.deadline - long.record.startedAt).toBe(3_600_000);
    advance(31_000);
    await expect(registry.authenticate(short.requestToken)).rejects.toMatchObject({
      code: 'ERR_INVALID_TOKEN',
    });
    await expect(registry.authenticate(long.requestToken)).resolves.toBeDefined();
  });

  it('collects ended executions only after the retention', async () => {
    const { registry, advance } = make();
    await registry.start(ENGINE, { executionId: 'e', workflowId: 'w' });
    await registry.end(ENGINE, 'e', 'success');
    advance(599_000);
    expect(await registry.collect()).toBe(0);
    advance(2_000);
    expect(await registry.collect()).toBe(1);
    await expect(registry.get(ENGINE, 'e')).rejects.toMatchObject({ code: 'ERR_NOT_FOUND' });
  });

  it('refuses a forged request token for a real token id', async () => {
    const { registry } = make();
    const { requestToken } = await registry.start(ENGINE, { executionId: 'e', workflowId: 'w' });
    const forged = requestToken.slice(0, 20) + 'A'.repeat(43);
    await expect(registry.authenticate(forged)).rejects.toMatchObject({
      code: 'ERR_INVALID_TOKEN',
    });
  });

  it('gives every execution its own status entry, in order, across lists, never reused on a repeat', async () => {
    const { registry } = make();
    const entries = [];
    for (let index = 0; index < 10; index++) {
      entries.push(
        (await registry.start(ENGINE, { executionId: `e${index}`, workflowId: 'w' })).record
          .statusEntry,
      );
    }
    const list = entries[0]!.list;
    expect(entries.slice(0, 8)).toEqual(Array.from({ length: 8 }, (_, idx) => ({ list, idx })));
    expect(entries.slice(8)).toEqual([
      { list: list + 1, idx: 0 },
      { list: list + 1, idx: 1 },
    ]);
    // A repeated registration keeps the execution's entry; the index it took stays unused.
    const again = await registry.start(ENGINE, { executionId: 'e0', workflowId: 'w' });
    expect(again.record.statusEntry).toEqual({ list, idx: 0 });
    const next = await registry.start(ENGINE, { executionId: 'e10', workflowId: 'w' });
    expect(next.record.statusEntry).toEqual({ list: list + 1, idx: 3 });
  });

  it('gives a store that starts empty other lists than the one before it, whose tokens may still be valid', async () => {
    // The keys outlive the store (a new database file, a move to another store, the memory
    // store after a restart): counting from list 0 again would hand the old tokens' entries to
    // new executions, and an ended execution's token would read VALID.
    const firstEntry = async (store: ExecutionStore): Promise<StatusEntry> => {
      const registry = new ExecutionRegistry(store, {
        maxDurationMs: 3_600_000,
        maxWaitMs: 86_400_000,
        retentionMs: 600_000,
        statusListSize: 8,
      });
      const { record } = await registry.start(ENGINE, { executionId: 'e', workflowId: 'w' });
      await store.close();
      return record.statusEntry!;
    };
    const dir = mkdtempSync(join(tmpdir(), 'wfid-registry-'));
    try {
      const before = await firstEntry(new SqliteStore(join(dir, 'before.db')));
      const after = await firstEntry(new SqliteStore(join(dir, 'after.db')));
      expect(after.idx).toBe(before.idx);
      expect(after.list).not.toBe(before.list);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    const memory = [await firstEntry(new MemoryStore()), await firstEntry(new MemoryStore())];
    expect(memory[1]!.list).not.toBe(memory[0]!.list);
  });

  it('reserves entries in blocks of 64: concurrent registrations share one, an idle minute drops the rest', async () => {
    let now = 1_000_000;
    const store = new MemoryStore();
    let reservations = 0;
    const reserve = store.statusLists.reserveStatusEntries;
    store.statusLists.reserveStatusEntries = (...args) => {
      reservations++;
      return reserve(...args);
    };
    const registry = new ExecutionRegistry(store, {
      maxDurationMs: 3_600_000,
      maxWaitMs: 86_400_000,
      retentionMs: 600_000,
      statusListSize: 1024,
      now: () => now,
    });
    const started = await Promise.all(
      Array.from({ length: 10 }, (_, index) =>
        registry.start(ENGINE, { executionId: `c${index}`, workflowId: 'w' }),
      ),
    );
    expect(started.map((item) => item.record.statusEntry!.idx).sort((a, b) => a - b)).toEqual(
      Array.from({ length: 10 }, (_, idx) => idx),
    );
    expect(reservations).toBe(1);
    now += 60_000;
    const later = await registry.start(ENGINE, { executionId: 'late', workflowId: 'w' });
    expect(later.record.statusEntry).toEqual({
      list: started[0]!.record.statusEntry!.list,
      idx: 64,
    });
    expect(reservations).toBe(2);
  });
});

describe('engine namespaces', () => {
  const prod: Engine = { name: 'n8n-prod', environment: 'prod', instance: 'main-1' };
  const dev: Engine = { name: 'n8n-dev' };
  const make = () =>
    new ExecutionRegistry(new MemoryStore(), {
      maxDurationMs: 3_600_000,
      retentionMs: 1,
      statusListSize: 1024,
    });

  it('lets two engines register the same id; neither reads, ends or re-registers the other', async () => {
    const registry = make();
    const a = await registry.start(prod, { executionId: '42', workflowId: 'wf-a' });
    const b = await registry.start(dev, { executionId: '42', workflowId: 'wf-b' });
    expect(b.created).toBe(true);
    expect((await registry.get(prod, '42')).workflowId).toBe('wf-a');
    expect((await registry.get(dev, '42')).workflowId).toBe('wf-b');
    await expect(registry.get({ name: 'other' }, '42')).rejects.toMatchObject({
      code: 'ERR_NOT_FOUND',
    });
    await expect(registry.end({ name: 'other' }, '42', 'success')).rejects.toMatchObject({
      code: 'ERR_NOT_FOUND',
    });
    await registry.end(dev, '42', 'canceled');
    // Each request token stays bound to its own engine's execution.
    expect(await registry.authenticate(a.requestToken)).toMatchObject({
      engine: 'n8n-prod',
      workflowId: 'wf-a',
      status: 'running',
    });
    await expect(registry.authenticate(b.requestToken)).rejects.toMatchObject({
      code: 'ERR_INVALID_TOKEN',
    });
  });

  it('fills the claims the credential fixes and refuses a request that says otherwise, naming the field', async () => {
    const registry = make();
    const { record } = await registry.start(prod, { executionId: '1', workflowId: 'w' });
    expect(record).toMatchObject({ engine: 'n8n-prod', environment: 'prod', instance: 'main-1' });
    await expect(
      registry.start(prod, { executionId: '2', workflowId: 'w', environment: 'prod' }),
    ).resolves.toMatchObject({ created: true });
    for (const field of ['environment', 'instance'] as const) {
      await expect(
        registry.start(prod, { executionId: '3', workflowId: 'w', [field]: 'dev' }),
      ).rejects.toMatchObject({
        code: 'ERR_INVALID_REQUEST',
        message: expect.stringMatching(new RegExp(`^${field}: `)),
      });
    }
    // Nothing was stored by the refused requests.
    await expect(registry.get(prod, '3')).rejects.toMatchObject({ code: 'ERR_NOT_FOUND' });
    // An engine without fixed claims takes them from the request.
    const free = await registry.start(dev, { executionId: '1', workflowId: 'w', environment: 'x' });
    expect(free.record.environment).toBe('x');
  });
});

describe('registration is all or nothing', () => {
  it('stores neither the execution nor a request token when the identity check refuses it', async () => {
    const store = new MemoryStore();
    let tokensStored = 0;
    const addRequestToken = store.addRequestToken.bind(store);
    store.addRequestToken = async (...args) => {
      tokensStored++;
      return addRequestToken(...args);
    };
    // A new execution's request token is stored by the insert itself.
    const insertExecution = store.insertExecution.bind(store);
    store.insertExecution = async (record, requestToken) => {
      if (requestToken) tokensStored++;
      return insertExecution(record, requestToken);
    };
    const registry = new ExecutionRegistry(store, {
      maxDurationMs: 3_600_000,
      retentionMs: 1,
      statusListSize: 1024,
      checkIdentity: (record) => {
        if (record.projectId?.includes(':'))
          throw new WfidError('ERR_INVALID_REQUEST', 'project_id: contains ":"');
      },
    });
    for (let attempt = 0; attempt < 3; attempt++) {
      await expect(
        registry.start(ENGINE, { executionId: 'e', workflowId: 'w', projectId: 'a:b' }),
      ).rejects.toMatchObject({ code: 'ERR_INVALID_REQUEST' });
    }
    expect(await store.getExecution(ENGINE.name, 'e')).toBeUndefined();
    expect(tokensStored).toBe(0);
    const { record } = await registry.start(ENGINE, { executionId: 'e', workflowId: 'w' });
    expect(record.projectId).toBeUndefined();
    expect(tokensStored).toBe(1);
  });

  it('judges a repeat the identity check refuses against the stored execution', async () => {
    const registry = new ExecutionRegistry(new MemoryStore(), {
      maxDurationMs: 3_600_000,
      retentionMs: 1,
      statusListSize: 1024,
      checkIdentity: (record) => {
        if (record.projectId === undefined)
          throw new WfidError('ERR_INVALID_REQUEST', 'project_id: required by the sub template');
      },
    });
    await registry.start(ENGINE, { executionId: 'e', workflowId: 'w', projectId: 'shop' });
    // A subset without the value the template needs repeats the stored execution: 200.
    const repeat = await registry.start(ENGINE, { executionId: 'e', workflowId: 'w' });
    expect(repeat).toMatchObject({ created: false, record: { projectId: 'shop' } });
    await expect(
      registry.start(ENGINE, { executionId: 'e', workflowId: 'other' }),
    ).rejects.toMatchObject({ code: 'ERR_CONFLICT' });
    await expect(
      registry.start(ENGINE, { executionId: 'new', workflowId: 'w' }),
    ).rejects.toMatchObject({ code: 'ERR_INVALID_REQUEST' });
  });
});

describe('registering a running execution again', () => {
  const first = {
    executionId: 'e',
    workflowId: 'w',
    workflowName: 'Nightly',
    owner: 'alice',
    claims: { team: 'data', tags: ['a', 'b'] },
    maxDurationS: 600,
  };
  const make = async () => {
    const registry = new ExecutionRegistry(new MemoryStore(), {
      maxDurationMs: 3_600_000,
      retentionMs: 1,
      statusListSize: 1024,
    });
    await registry.start(ENGINE, first);
    return registry;
  };

  it('with the same values, or a subset of them, is idempotent: the stored record stays', async () => {
    const registry = await make();
    const same = await registry.start(ENGINE, first);
    expect(same.created).toBe(false);
    const subset = await registry.start(ENGINE, {
      executionId: 'e',
      workflowId: 'w',
      claims: { tags: ['a', 'b'] },
    });
    expect(subset.created).toBe(false);
    expect(subset.record).toMatchObject({ workflowName: 'Nightly', owner: 'alice' });
  });

  it('with another value answers ERR_CONFLICT naming the field; the stored record stays', async () => {
    const cases: [Record<string, unknown>, string][] = [
      [{ workflowId: 'other' }, 'workflow_id'],
      [{ workflowName: 'Daily' }, 'workflow_name'],
      [{ mode: 'manual' }, 'mode'], // not registered the first time: not a subset
      [{ claims: { team: 'ops' } }, 'claims.team'],
      [{ claims: { tags: ['a'] } }, 'claims.tags'],
      [{ maxDurationS: 60 }, 'max_duration_s'],
    ];
    const registry = await make();
    for (const [change, field] of cases) {
      await expect(registry.start(ENGINE, { ...first, ...change })).rejects.toMatchObject({
        code: 'ERR_CONFLICT',
        message: `${field}: execution e is registered with another value`,
      });
    }
    expect(await registry.get(ENGINE, 'e')).toMatchObject({
      workflowId: 'w',
      workflowName: 'Nightly',
    });
  });

  it('after it ended answers ERR_EXECUTION_ENDED', async () => {
    const registry = await make();
    await registry.end(ENGINE, 'e', 'success');
    await expect(registry.start(ENGINE, first)).rejects.toMatchObject({
      code: 'ERR_EXECUTION_ENDED',
    });
  });
});
