import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { MemoryStore } from '../../src/executions/stores/memory.js';
import { SqliteStore } from '../../src/executions/stores/sqlite.js';
import { describeAuditSuite } from './audit-suite.js';
import { describeStoreSuite, execution } from './store-suite.js';

describeStoreSuite('memory', async () => ({ store: new MemoryStore() }));
describeAuditSuite('memory', async () => ({ store: new MemoryStore() }));

describeAuditSuite('sqlite', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'wfid-sqlite-'));
  return {
    store: new SqliteStore(join(dir, 'wfid.db')),
    cleanup: () => rm(dir, { recursive: true, force: true }),
  };
});

describeStoreSuite('sqlite', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'wfid-sqlite-'));
  return {
    store: new SqliteStore(join(dir, 'wfid.db')),
    cleanup: () => rm(dir, { recursive: true, force: true }),
  };
});

describe('sqlite token lookup cache', () => {
  it('is exactly as fresh as the database, for writes of this process and of another', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'wfid-sqlite-'));
    const path = join(dir, 'wfid.db');
    const server = new SqliteStore(path);
    const other = new SqliteStore(path); // another process on the same file (a second issuer, the CLI)
    const first = execution();
    const second = execution();
    for (const record of [first, second]) {
      await server.insertExecution(record);
      await server.addRequestToken(`t-${record.executionId}`, {
        executionId: record.executionId,
        secretHash: randomBytes(32),
      });
    }
    expect((await server.getRequestToken(`t-${first.executionId}`))?.execution?.status).toBe(
      'running',
    );
    expect((await server.getRequestToken(`t-${second.executionId}`))?.execution?.status).toBe(
      'running',
    );

    await other.endExecution(first.executionId, 'canceled', Date.now());
    expect((await server.getRequestToken(`t-${first.executionId}`))?.execution?.status).toBe(
      'canceled',
    );

    expect((await server.getRequestToken(`t-${second.executionId}`))?.execution?.status).toBe(
      'running',
    );
    await server.endExecution(second.executionId, 'success', Date.now());
    expect((await server.getRequestToken(`t-${second.executionId}`))?.execution?.status).toBe(
      'success',
    );
    await server.close();
    await other.close();
    await rm(dir, { recursive: true, force: true });
  });
});
