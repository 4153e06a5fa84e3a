import { randomBytes } from 'node:crypto';
import { fstatSync, statSync } from 'node:fs';
import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { describe, expect, it, vi } from 'vitest';
import { toEvent } from '../../src/audit/event.js';
import { SQLITE_AUDIT_MIGRATION, SqliteAuditStore } from '../../src/audit/stores/sqlite.js';
import { DEFAULT_ENGINE } from '../../src/executions/engine.js';
import { MemoryStore } from '../../src/executions/stores/memory.js';
import { MIGRATIONS, SqliteStore } from '../../src/executions/stores/sqlite.js';
import { GroupCommit } from '../../src/executions/stores/sqlite-group-commit.js';
import { describeAuditSuite } from './audit-suite.js';
import { describeConcurrentWrites } from './concurrent-writes-suite.js';
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

describeConcurrentWrites('sqlite', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'wfid-sqlite-'));
  return {
    store: new SqliteStore(join(dir, 'wfid.db')),
    cleanup: () => rm(dir, { recursive: true, force: true }),
  };
});

describe('sqlite token lookup cache', () => {
  it('sees a commit of another process from the next turn of the event loop, its own writes at once', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'wfid-sqlite-'));
    const path = join(dir, 'wfid.db');
    const server = new SqliteStore(path);
    const other = new SqliteStore(path); // another process on the same file (a second issuer, the CLI)
    const first = execution();
    const second = execution();
    for (const record of [first, second]) {
      await server.insertExecution(record);
      await server.addRequestToken(`t-${record.executionId}`, {
        engine: record.engine,
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

    await other.endExecution(first.engine, first.executionId, 'canceled', Date.now());
    expect((await server.getRequestToken(`t-${first.executionId}`))?.execution?.status).toBe(
      'canceled',
    );
    // A plain connection (the CLI, a script) commits synchronously; one turn later it is seen.
    const raw = new Database(path);
    raw
      .prepare("UPDATE executions SET status = 'failed' WHERE execution_id = ?")
      .run(first.executionId);
    raw.close();
    await new Promise((turn) => setImmediate(turn));
    expect((await server.getRequestToken(`t-${first.executionId}`))?.execution?.status).toBe(
      'failed',
    );
    // Within one turn (only microtasks in between), once the last read is a millisecond old.
    const again = new Database(path);
    again
      .prepare("UPDATE executions SET status = 'timeout' WHERE execution_id = ?")
      .run(first.executionId);
    again.close();
    const waitUntil = performance.now() + 2;
    while (performance.now() < waitUntil) {}
    expect((await server.getRequestToken(`t-${first.executionId}`))?.execution?.status).toBe(
      'timeout',
    );

    expect((await server.getRequestToken(`t-${second.executionId}`))?.execution?.status).toBe(
      'running',
    );
    await server.endExecution(second.engine, second.executionId, 'success', Date.now());
    expect((await server.getRequestToken(`t-${second.executionId}`))?.execution?.status).toBe(
      'success',
    );
    await server.close();
    await other.close();
    await rm(dir, { recursive: true, force: true });
  });
});

describe('sqlite migration to engine namespaces', () => {
  it('keeps executions and request tokens stored before engines, in the default engine', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'wfid-sqlite-'));
    const path = join(dir, 'wfid.db');
    // The database as the first release left it: schema version 1, one execution, one token.
    const old = new Database(path);
    old.exec(MIGRATIONS[0]!);
    old.pragma('user_version = 1');
    old
      .prepare(
        `INSERT INTO executions (execution_id, workflow_id, metadata, status, started_at, deadline, ended_at)
         VALUES ('a:tokens', 'wf-old', '{"claims":{}}', 'running', 1000, ?, NULL)`,
      )
      .run(Date.now() + 3_600_000);
    const secretHash = randomBytes(32);
    old
      .prepare('INSERT INTO request_tokens (token_id, execution_id, secret_hash) VALUES (?, ?, ?)')
      .run('t-old', 'a:tokens', secretHash);
    old.close();

    const store = new SqliteStore(path);
    const record = await store.getExecution(DEFAULT_ENGINE, 'a:tokens');
    expect(record).toMatchObject({ engine: 'default', workflowId: 'wf-old', status: 'running' });
    const token = await store.getRequestToken('t-old');
    expect(token).toMatchObject({ engine: 'default', executionId: 'a:tokens' });
    expect(token?.execution).toEqual(record);
    expect(Buffer.from(token!.secretHash).equals(secretHash)).toBe(true);
    // Another engine may now use the same id.
    const other = execution({ engine: 'n8n-dev', executionId: 'a:tokens' });
    expect((await store.insertExecution(other)).inserted).toBe(true);
    await store.close();
    await rm(dir, { recursive: true, force: true });
  });
});

describe('sqlite group commit', () => {
  it('rolls back a failing write alone; the others of its group commit', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'wfid-sqlite-'));
    const path = join(dir, 'wfid.db');
    const store = new SqliteStore(path);
    const [a, b] = [execution(), execution()];
    await store.insertExecution(a);
    const token = { engine: a.engine, executionId: a.executionId, secretHash: randomBytes(32) };
    await store.addRequestToken('t-taken', token);
    const outcomes = await Promise.allSettled([
      store.insertExecution(b, { tokenId: 't-b', secretHash: randomBytes(32) }),
      store.addRequestToken('t-taken', token), // the primary key is taken: this write fails
      store.endExecution(a.engine, a.executionId, 'success', Date.now()),
    ]);
    expect(outcomes.map((outcome) => outcome.status)).toEqual([
      'fulfilled',
      'rejected',
      'fulfilled',
    ]);
    expect(String((outcomes[1] as PromiseRejectedResult).reason)).toMatch(/UNIQUE/);
    // Read through another connection: what was answered is committed.
    const other = new SqliteStore(path);
    expect(await other.getExecution(b.engine, b.executionId)).toEqual(b);
    expect((await other.getRequestToken('t-b'))?.executionId).toBe(b.executionId);
    expect((await other.getExecution(a.engine, a.executionId))?.status).toBe('success');
    await other.close();
    await store.close();
    await rm(dir, { recursive: true, force: true });
  });
});

describe('sqlite group commit, WAL sync off the event loop', () => {
  /** A table of one column, and a GroupCommit whose syncs the test completes by hand. */
  async function setUp() {
    const dir = await mkdtemp(join(tmpdir(), 'wfid-sqlite-'));
    await mkdir(join(dir, 'real'));
    // The database is opened through a symlink, and a stale `-wal` lies beside the link: the
    // WAL synced must be the one SQLite writes, next to the real file.
    await symlink(join(dir, 'real'), join(dir, 'link'));
    const path = join(dir, 'link', 'wfid.db');
    const db = new Database(path);
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = FULL');
    db.exec('CREATE TABLE t (v TEXT PRIMARY KEY)');
    await writeFile(join(dir, 'wfid.db-wal'), 'stale');
    const syncs: ((error: NodeJS.ErrnoException | null) => void)[] = [];
    const synced = new Set<number>();
    const commit = new GroupCommit(db, path, (fd, done) => {
      synced.add(fstatSync(fd).ino);
      syncs.push(done);
    });
    const realWal = statSync(join(dir, 'real', 'wfid.db-wal')).ino;
    const insert = db.prepare('INSERT INTO t VALUES (?)');
    const write = (v: string) => {
      let settled: 'no' | 'resolved' | 'rejected' = 'no';
      const promise = commit.run(() => insert.run(v));
      promise.then(
        () => {
          settled = 'resolved';
        },
        () => {
          settled = 'rejected';
        },
      );
      return { promise, settled: () => settled };
    };
    const turn = () => new Promise((next) => setImmediate(next));
    const cleanup = async () => {
      db.close();
      await rm(dir, { recursive: true, force: true });
    };
    return { path, db, commit, syncs, synced, realWal, write, turn, cleanup };
  }

  it('answers a write only after a sync that started after its commit; one sync at a time', async () => {
    const { path, db, syncs, synced, realWal, write, turn, cleanup } = await setUp();
    const a = write('a');
    await turn(); // a's group commits; its sync starts
    expect(syncs).toHaveLength(1);
    // Committed, so visible to another connection, but not yet answered.
    const other = new Database(path, { readonly: true });
    expect(other.prepare('SELECT count(*) FROM t').pluck().get()).toBe(1);
    other.close();
    const b = write('b');
    await turn(); // b's group commits while a's sync is in flight: no second sync yet
    expect(syncs).toHaveLength(1);
    expect([a.settled(), b.settled()]).toEqual(['no', 'no']);
    syncs[0]!(null);
    await turn();
    // a's sync may have started before b's frames were written: b waits for the next one.
    expect([a.settled(), b.settled()]).toEqual(['resolved', 'no']);
    expect(syncs).toHaveLength(2);
    syncs[1]!(null);
    await b.promise;
    expect([...synced]).toEqual([realWal]);
    // The connection's own writes outside the group keep synchronous=FULL.
    expect(db.pragma('synchronous', { simple: true })).toBe(2);
    await cleanup();
  });

  it('fails its writes, every later write and readiness once a sync failed, and never syncs again', async () => {
    const { commit, syncs, write, turn, cleanup } = await setUp();
    const a = write('a');
    await turn(); // a's sync starts
    const b = write('b');
    await turn(); // b commits and waits for the next sync
    syncs[0]!(Object.assign(new Error('EIO: i/o error, fdatasync'), { code: 'EIO' }));
    await expect(a.promise).rejects.toMatchObject({ code: 'ERR_STORE_UNAVAILABLE' });
    // A later sync might report success for pages the kernel dropped: b is never acknowledged.
    await expect(b.promise).rejects.toMatchObject({ code: 'ERR_STORE_UNAVAILABLE' });
    await expect(write('c').promise).rejects.toMatchObject({ code: 'ERR_STORE_UNAVAILABLE' });
    await expect(commit.durable()).rejects.toMatchObject({ code: 'ERR_STORE_UNAVAILABLE' });
    expect(syncs).toHaveLength(1);
    expect(() => commit.check()).toThrow(/could not sync its WAL/);
    await cleanup();
  });

  it('refuses writes once closed, after the queued ones became durable', async () => {
    const { commit, syncs, write, cleanup } = await setUp();
    const a = write('a');
    const closed = commit.close();
    await new Promise((turn) => setImmediate(turn));
    await new Promise((turn) => setImmediate(turn));
    syncs[0]!(null);
    await expect(a.promise).resolves.toBeDefined();
    // close() asks for one more sync: everything committed before it must be on disk.
    expect(syncs).toHaveLength(2);
    syncs[1]!(null);
    await closed;
    await expect(write('b').promise).rejects.toMatchObject({ code: 'ERR_STORE_UNAVAILABLE' });
    await cleanup();
  });
});

describe('sqlite audit batches', () => {
  it('leave the connection at synchronous=FULL after their relaxed commit, failed or not', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'wfid-sqlite-'));
    const path = join(dir, 'wfid.db');
    const db = new Database(path);
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = FULL');
    db.exec(SQLITE_AUDIT_MIGRATION);
    const synced: string[] = [];
    const writer = new GroupCommit(db, path, (_fd, done) => {
      synced.push('sync');
      done(null);
    });
    const audit = new SqliteAuditStore(db, writer);
    const level = () => db.pragma('synchronous', { simple: true });
    // A batch that fails (its table is gone) leaves the level as it found it too.
    db.exec('ALTER TABLE audit_events RENAME TO audit_events_away');
    await expect(
      audit.appendEvents([toEvent({ kind: 'token.minted', outcome: 'ok' }, Date.now())]),
    ).rejects.toThrow(/no such table/);
    expect(level()).toBe(2);
    db.exec('ALTER TABLE audit_events_away RENAME TO audit_events');
    const events = Array.from({ length: 120 }, () =>
      toEvent(
        { kind: 'token.minted', outcome: 'ok', jti: randomBytes(8).toString('hex') },
        Date.now(),
      ),
    );
    await audit.appendEvents(events);
    expect(level()).toBe(2);
    // The first batch waits for a WAL sync; the next, within a second, does not: a sync
    // follows it at most a second after the previous one.
    expect(synced).toEqual(['sync']);
    await audit.appendEvents([toEvent({ kind: 'token.minted', outcome: 'ok' }, Date.now())]);
    expect(synced).toEqual(['sync']);
    await vi.waitFor(() => expect(synced).toEqual(['sync', 'sync']), { timeout: 3000 });
    expect(db.prepare('SELECT count(*) FROM audit_events').pluck().get()).toBe(121);
    db.close();
    await rm(dir, { recursive: true, force: true });
  });
});

describe('sqlite close', () => {
  it('commits writes queued before it', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'wfid-sqlite-'));
    const path = join(dir, 'wfid.db');
    const store = new SqliteStore(path);
    const record = execution();
    const inserted = store.insertExecution(record);
    await store.close();
    expect((await inserted).inserted).toBe(true);
    const reopened = new SqliteStore(path);
    expect(await reopened.getExecution(record.engine, record.executionId)).toEqual(record);
    await reopened.close();
    await rm(dir, { recursive: true, force: true });
  });
});
