import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import { SQLITE_AUDIT_MIGRATION, SqliteAuditStore } from '../../audit/stores/sqlite.js';
import { WfidError } from '../../errors.js';
import type { KeyStateRecord, KeyStateStore } from '../../keys/states.js';
import { DEFAULT_ENGINE } from '../engine.js';
import type { EndStatus, ExecutionRecord, RunState } from '../execution.js';
import { firstStatusList } from '../status-entries.js';
import type {
  ExecutionStore,
  NewRequestToken,
  RequestTokenLookup,
  RunningEntry,
  StatusListInfo,
  StatusListStore,
  StoredRequestToken,
} from '../store.js';
import type { StoreLogger } from './driver.js';
import { type ExecutionRow, fromRow, toRow } from './rows.js';
import { WalCheckpointer } from './sqlite-checkpointer.js';
import { GroupCommit } from './sqlite-group-commit.js';

/** Token lookups kept between commits; the cache is dropped whole when full (cheap, rare). */
const LOOKUP_CACHE_SIZE = 10_000;
/** How stale the token lookup cache may be against other processes' commits, within one turn. */
const VERSION_READ_MAX_AGE_MS = 1;

/** Versioned schema: each entry runs once, in order, recorded in `PRAGMA user_version`. */
/** Exported for the migration tests, which lay down data as an earlier release wrote it. */
export const MIGRATIONS = [
  `CREATE TABLE executions (
     execution_id TEXT PRIMARY KEY, workflow_id TEXT NOT NULL, metadata TEXT NOT NULL,
     status TEXT NOT NULL, started_at INTEGER NOT NULL, deadline INTEGER NOT NULL, ended_at INTEGER);
   CREATE INDEX executions_retention ON executions (coalesce(ended_at, deadline));
   CREATE TABLE request_tokens (
     token_id TEXT PRIMARY KEY, execution_id TEXT NOT NULL, secret_hash BLOB NOT NULL);
   CREATE INDEX request_tokens_execution ON request_tokens (execution_id);
   CREATE TABLE key_states (kid TEXT PRIMARY KEY, record TEXT NOT NULL);
   CREATE TABLE leases (name TEXT PRIMARY KEY, holder TEXT NOT NULL, until INTEGER NOT NULL);`,
  // Token Status Lists: each execution's entry, and the lists entries are allocated from. The
  // partial index holds running executions only, so building a list reads just those.
  `ALTER TABLE executions ADD COLUMN status_list INTEGER;
   ALTER TABLE executions ADD COLUMN status_idx INTEGER;
   CREATE INDEX executions_running_status ON executions (status_list, status_idx, deadline)
     WHERE status = 'running';
   CREATE TABLE status_lists (
     list_id INTEGER PRIMARY KEY, size INTEGER NOT NULL, next_idx INTEGER NOT NULL,
     created_at INTEGER NOT NULL);`,
  SQLITE_AUDIT_MIGRATION,
  // Engine namespaces: an execution is named by (engine, execution_id). Rows written before
  // belong to the default engine, the one a lone WFID_ENGINE_TOKEN authenticates.
  `CREATE TABLE executions_by_engine (
     engine TEXT NOT NULL, execution_id TEXT NOT NULL, workflow_id TEXT NOT NULL, metadata TEXT NOT NULL,
     status TEXT NOT NULL, started_at INTEGER NOT NULL, deadline INTEGER NOT NULL, ended_at INTEGER,
     status_list INTEGER, status_idx INTEGER,
     PRIMARY KEY (engine, execution_id));
   INSERT INTO executions_by_engine
     SELECT '${DEFAULT_ENGINE}', execution_id, workflow_id, metadata, status, started_at, deadline,
       ended_at, status_list, status_idx
     FROM executions;
   DROP TABLE executions;
   ALTER TABLE executions_by_engine RENAME TO executions;
   CREATE INDEX executions_retention ON executions (coalesce(ended_at, deadline));
   CREATE INDEX executions_running_status ON executions (status_list, status_idx, deadline)
     WHERE status = 'running';
   ALTER TABLE request_tokens ADD COLUMN engine TEXT NOT NULL DEFAULT '${DEFAULT_ENGINE}';
   DROP INDEX request_tokens_execution;
   CREATE INDEX request_tokens_execution ON request_tokens (engine, execution_id);`,
];

/** The default store: one SQLite file (WAL), enough for a single issuer. */
export class SqliteStore implements ExecutionStore {
  readonly kind = 'sqlite';
  readonly keyStates: KeyStateStore;
  readonly statusLists: StatusListStore;
  readonly audit: SqliteAuditStore;
  private readonly db: Database.Database;
  private readonly statements;
  /** Registrations, request tokens and ends: group-committed (one fsync per group). */
  private readonly writes: GroupCommit;
  private lookups: { version: number; entries: Map<string, RequestTokenLookup> } = {
    version: -1,
    entries: new Map(),
  };
  /** When `PRAGMA data_version` was last read in this turn of the event loop (getRequestToken). */
  private versionRead: number | undefined;

  /** Checkpoints the WAL off the event loop; undefined for an in-memory database. */
  private readonly checkpointer?: WalCheckpointer;

  constructor(path: string, options: { logger?: StoreLogger; checkpointIntervalMs?: number } = {}) {
    if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
    try {
      this.db = new Database(path);
    } catch (err) {
      throw new WfidError('ERR_STORE_UNAVAILABLE', `cannot open SQLite store ${path}`, {
        cause: err,
      });
    }
    this.db.pragma('journal_mode = WAL');
    // An end of execution answered 200 must survive a crash: sync the WAL on every commit
    // (group-committed writes sync it themselves, off the event loop: GroupCommit).
    this.db.pragma('synchronous = FULL');
    this.db.pragma('busy_timeout = 5000');
    migrate(this.db);
    const file = path === ':memory:' ? undefined : path;
    this.writes = new GroupCommit(this.db, file);
    if (file) {
      this.checkpointer = new WalCheckpointer(this.db, file, {
        logger: options.logger,
        intervalMs: options.checkpointIntervalMs,
      });
    }
    this.audit = new SqliteAuditStore(this.db, this.writes);
    const db = this.db;
    this.statements = {
      insert: db.prepare(
        `INSERT INTO executions (engine, execution_id, workflow_id, metadata, status, started_at,
           deadline, ended_at, status_list, status_idx)
         VALUES (@engine, @execution_id, @workflow_id, @metadata, @status, @started_at, @deadline,
           @ended_at, @status_list, @status_idx)
         ON CONFLICT (engine, execution_id) DO NOTHING`,
      ),
      get: db.prepare('SELECT * FROM executions WHERE engine = ? AND execution_id = ?'),
      dataVersion: db.prepare('PRAGMA data_version').pluck(),
      end: db.prepare(
        `UPDATE executions SET status = ?, ended_at = ?
         WHERE engine = ? AND execution_id = ? AND status IN ('running', 'waiting')`,
      ),
      move: db.prepare(
        `UPDATE executions SET status = @to, deadline = @deadline
         WHERE engine = @engine AND execution_id = @id AND status = @from AND deadline > @now`,
      ),
      addToken: db.prepare(
        'INSERT INTO request_tokens (token_id, engine, execution_id, secret_hash) VALUES (?, ?, ?, ?)',
      ),
      getToken: db.prepare(
        `SELECT t.engine AS token_engine, t.execution_id AS token_execution_id, t.secret_hash, e.*
         FROM request_tokens t
         LEFT JOIN executions e ON e.engine = t.engine AND e.execution_id = t.execution_id
         WHERE t.token_id = ?`,
      ),
      collectTokens: db.prepare(
        `DELETE FROM request_tokens WHERE (engine, execution_id) IN
           (SELECT engine, execution_id FROM executions WHERE coalesce(ended_at, deadline) < ?)`,
      ),
      collect: db.prepare('DELETE FROM executions WHERE coalesce(ended_at, deadline) < ?'),
      listKeys: db.prepare('SELECT record FROM key_states'),
      putKey: db.prepare(
        'INSERT INTO key_states (kid, record) VALUES (?, ?) ON CONFLICT (kid) DO UPDATE SET record = excluded.record',
      ),
      takeLease: db.prepare(
        `INSERT INTO leases (name, holder, until) VALUES (@name, @holder, @until)
         ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, until = excluded.until
         WHERE leases.holder = excluded.holder OR leases.until <= @now`,
      ),
      releaseLease: db.prepare('DELETE FROM leases WHERE name = ? AND holder = ?'),
      newestList: db.prepare(
        'SELECT list_id, size, next_idx FROM status_lists ORDER BY list_id DESC LIMIT 1',
      ),
      advanceList: db.prepare('UPDATE status_lists SET next_idx = ? WHERE list_id = ?'),
      openList: db.prepare(
        'INSERT INTO status_lists (list_id, size, next_idx, created_at) VALUES (?, ?, ?, ?)',
      ),
      lists: db.prepare(
        'SELECT list_id AS list, size, created_at AS createdAt FROM status_lists ORDER BY list_id',
      ),
      listSize: db.prepare('SELECT size FROM status_lists WHERE list_id = ?').pluck(),
      running: db.prepare(
        `SELECT status_idx AS idx, deadline FROM executions WHERE status_list = ? AND status = 'running'`,
      ),
    };
    const s = this.statements;
    this.keyStates = {
      listKeyStates: async () =>
        (s.listKeys.all() as { record: string }[]).map((row) => JSON.parse(row.record)),
      putKeyState: async (record: KeyStateRecord) => {
        this.writes.check();
        s.putKey.run(record.kid, JSON.stringify(record));
      },
      acquireLease: async (name, holder, ttlMs) => {
        this.writes.check();
        const now = Date.now();
        return s.takeLease.run({ name, holder, until: now + ttlMs, now }).changes > 0;
      },
      releaseLease: async (name, holder) => {
        this.writes.check();
        s.releaseLease.run(name, holder);
      },
    };
    // IMMEDIATE: the write lock is taken before the read, so two processes on one file never
    // both read the same next index.
    const reserve = db.transaction((count: number, size: number, now: number) => {
      const newest = s.newestList.get() as
        | { list_id: number; size: number; next_idx: number }
        | undefined;
      if (newest && newest.next_idx < newest.size) {
        const end = Math.min(newest.size, newest.next_idx + count);
        s.advanceList.run(end, newest.list_id);
        return { list: newest.list_id, idx: newest.next_idx, count: end - newest.next_idx };
      }
      const list = newest ? newest.list_id + 1 : firstStatusList();
      const taken = Math.min(size, count);
      s.openList.run(list, size, taken, now);
      return { list, idx: 0, count: taken };
    });
    this.statusLists = {
      reserveStatusEntries: async (count, size, now) => {
        this.writes.check();
        return reserve.immediate(count, size, now);
      },
      listStatusLists: async () => s.lists.all() as StatusListInfo[],
      readStatusList: async (list) => {
        const size = s.listSize.get(list) as number | undefined;
        if (size === undefined) return undefined;
        return { size, running: s.running.all(list) as RunningEntry[] };
      },
    };
  }

  async insertExecution(record: ExecutionRecord, requestToken?: NewRequestToken) {
    const s = this.statements;
    return this.writes.run(() => {
      if (s.insert.run(toRow(record)).changes === 0) {
        const stored = s.get.get(record.engine, record.executionId) as ExecutionRow;
        return { inserted: false, record: fromRow(stored) };
      }
      if (requestToken) {
        s.addToken.run(
          requestToken.tokenId,
          record.engine,
          record.executionId,
          requestToken.secretHash,
        );
      }
      return { inserted: true, record };
    });
  }

  async getExecution(engine: string, executionId: string) {
    const row = this.statements.get.get(engine, executionId) as ExecutionRow | undefined;
    return row && fromRow(row);
  }

  async endExecution(engine: string, executionId: string, status: EndStatus, endedAt: number) {
    const s = this.statements;
    return this.writes.run(() => {
      s.end.run(status, endedAt, engine, executionId);
      // A group runs synchronously, commit included, so no lookup reads in between: the next
      // token request after the end is answered reads the ended execution.
      this.lookups.entries.clear();
      const row = s.get.get(engine, executionId) as ExecutionRow | undefined;
      return row && fromRow(row);
    });
  }

  async moveExecution(
    engine: string,
    executionId: string,
    from: RunState,
    to: RunState,
    deadline: number,
    now: number,
  ) {
    this.writes.check();
    this.statements.move.run({ engine, id: executionId, from, to, deadline, now });
    this.lookups.entries.clear();
    return this.getExecution(engine, executionId);
  }

  async addRequestToken(tokenId: string, token: StoredRequestToken) {
    const s = this.statements;
    await this.writes.run(() =>
      s.addToken.run(tokenId, token.engine, token.executionId, token.secretHash),
    );
  }

  /**
   * The lookup of every token request. Answers come from a cache that another process's commit
   * (another replica on the same file, the CLI) invalidates: SQLite bumps `PRAGMA data_version`
   * for it. The version is read at the first lookup of each turn of the event loop and again
   * once the last read is a millisecond old, not for every request: the read takes two
   * file-lock syscalls, under load the largest cost of a token request after the signature and
   * the socket. So a commit elsewhere is seen within a millisecond, or at the next turn. This
   * connection's own writes that change a cached answer (an end, a wait, a collection) clear
   * the cache themselves, at once.
   */
  async getRequestToken(tokenId: string) {
    const now = performance.now();
    if (this.versionRead === undefined || now - this.versionRead > VERSION_READ_MAX_AGE_MS) {
      const version = this.statements.dataVersion.get() as number;
      if (version !== this.lookups.version) this.lookups = { version, entries: new Map() };
      if (this.versionRead === undefined) {
        setImmediate(() => {
          this.versionRead = undefined;
        });
      }
      this.versionRead = now;
    }
    const cached = this.lookups.entries.get(tokenId);
    if (cached) return cached;
    const row = this.statements.getToken.get(tokenId) as
      | (ExecutionRow & { token_engine: string; token_execution_id: string; secret_hash: Buffer })
      | undefined;
    if (!row) return undefined;
    const lookup: RequestTokenLookup = {
      engine: row.token_engine,
      executionId: row.token_execution_id,
      secretHash: row.secret_hash,
      execution: row.execution_id === null ? undefined : fromRow(row),
    };
    if (this.lookups.entries.size >= LOOKUP_CACHE_SIZE) this.lookups.entries.clear();
    this.lookups.entries.set(tokenId, lookup);
    return lookup;
  }

  async collectExecutions(before: number) {
    this.writes.check();
    this.lookups.entries.clear();
    return this.db.transaction(() => {
      this.statements.collectTokens.run(before);
      return this.statements.collect.run(before).changes;
    })();
  }

  async ping() {
    this.writes.check();
    this.db.prepare('SELECT 1').get();
  }

  async close() {
    await this.writes.close();
    await this.checkpointer?.stop();
    this.db.close();
  }
}

function migrate(db: Database.Database): void {
  const version = db.pragma('user_version', { simple: true }) as number;
  for (let index = version; index < MIGRATIONS.length; index++) {
    db.transaction(() => {
      db.exec(MIGRATIONS[index]!);
      db.pragma(`user_version = ${index + 1}`);
    })();
  }
}
