import type { DatabaseError as PgDatabaseError, Pool, PoolClient, QueryResultRow } from 'pg';
import { POSTGRES_AUDIT_MIGRATION, PostgresAuditStore } from '../../audit/stores/postgres.js';
import { WfidError } from '../../errors.js';
import type { KeyStateRecord, KeyStateStore } from '../../keys/states.js';
import { DEFAULT_ENGINE } from '../engine.js';
import type { EndStatus, ExecutionRecord, RunState } from '../execution.js';
import type {
  ExecutionStore,
  NewRequestToken,
  StatusListStore,
  StoredRequestToken,
} from '../store.js';
import { importDriver, redactUrl, type StoreLogger, storeUnavailable } from './driver.js';
import { PostgresWrites, retriesAlone } from './postgres-writes.js';
import { type ExecutionRow, fromRow, toRow } from './rows.js';

/**
 * Versioned schema, recorded in `wfid_migrations`. Append only: never edit an applied entry.
 * Each must stay readable by the previous release, since replicas upgrade one at a time.
 */
/** Exported for the migration tests, which lay down data as an earlier release wrote it. */
export const MIGRATIONS = [
  `CREATE TABLE wfid_executions (
     execution_id text PRIMARY KEY, workflow_id text NOT NULL, metadata jsonb NOT NULL,
     status text NOT NULL CHECK (status IN ('running', 'success', 'error', 'canceled', 'crashed')),
     started_at bigint NOT NULL, deadline bigint NOT NULL, ended_at bigint);
   CREATE INDEX wfid_executions_retention ON wfid_executions ((coalesce(ended_at, deadline)));
   CREATE TABLE wfid_request_tokens (
     token_id text PRIMARY KEY, execution_id text NOT NULL, secret_hash bytea NOT NULL);
   CREATE INDEX wfid_request_tokens_execution ON wfid_request_tokens (execution_id);
   CREATE TABLE wfid_key_states (kid text PRIMARY KEY, record jsonb NOT NULL);
   CREATE TABLE wfid_leases (name text PRIMARY KEY, holder text NOT NULL, until timestamptz NOT NULL);`,
  // Token Status Lists: each execution's entry, and the lists entries are allocated from. The
  // partial index holds running executions only, so building a list reads just those.
  `ALTER TABLE wfid_executions ADD COLUMN status_list integer, ADD COLUMN status_idx integer;
   CREATE INDEX wfid_executions_running_status ON wfid_executions (status_list, status_idx, deadline)
     WHERE status = 'running';
   CREATE TABLE wfid_status_lists (
     list_id integer PRIMARY KEY, size integer NOT NULL, next_idx integer NOT NULL,
     created_at bigint NOT NULL);`,
  // The number of the first status list, drawn once (see firstStatusList), so that replicas
  // opening the first list at the same moment all name the same one and one insert wins.
  `CREATE TABLE wfid_status_list_first (
     only_row boolean PRIMARY KEY DEFAULT true CHECK (only_row), list_id integer NOT NULL);
   INSERT INTO wfid_status_list_first (list_id) VALUES (floor(random() * 500000000)::integer);`,
  POSTGRES_AUDIT_MIGRATION,
  // Engine namespaces: an execution is named by (engine, execution_id). Rows written before
  // belong to the default engine. The new primary key no longer serves the previous release's
  // ON CONFLICT (execution_id): replicas move to this release together (docs/deployment.md).
  `ALTER TABLE wfid_executions ADD COLUMN engine text NOT NULL DEFAULT '${DEFAULT_ENGINE}';
   ALTER TABLE wfid_executions DROP CONSTRAINT wfid_executions_pkey;
   ALTER TABLE wfid_executions ADD PRIMARY KEY (engine, execution_id);
   ALTER TABLE wfid_request_tokens ADD COLUMN engine text NOT NULL DEFAULT '${DEFAULT_ENGINE}';
   DROP INDEX wfid_request_tokens_execution;
   CREATE INDEX wfid_request_tokens_execution ON wfid_request_tokens (engine, execution_id);`,
  // Paused executions (an n8n Wait node). A previous release reads `waiting` as not running.
  `ALTER TABLE wfid_executions DROP CONSTRAINT wfid_executions_status_check,
     ADD CONSTRAINT wfid_executions_status_check
       CHECK (status IN ('running', 'waiting', 'success', 'error', 'canceled', 'crashed'));`,
];

/** Advisory lock key ('wfid' in ASCII) serialising migrations when several replicas start at once. */
const MIGRATION_LOCK = 0x77666964;
const COLLECT_BATCH = 1000;
const EXECUTION_COLUMNS =
  'engine, execution_id, workflow_id, metadata::text AS metadata, status, started_at, deadline, ended_at, status_list, status_idx';
/** Attempts at reserving status entries while other replicas open the next list at the same moment. */
const RESERVE_ATTEMPTS = 10;

/** Named statements: pg prepares each once per pooled connection. */
const SQL = {
  get: `SELECT ${EXECUTION_COLUMNS} FROM wfid_executions WHERE engine = $1 AND execution_id = $2`,
  move: `UPDATE wfid_executions SET status = $4, deadline = $5
         WHERE engine = $1 AND execution_id = $2 AND status = $3 AND deadline > $6
         RETURNING ${EXECUTION_COLUMNS}`,
  addToken:
    'INSERT INTO wfid_request_tokens (token_id, engine, execution_id, secret_hash) VALUES ($1, $2, $3, $4)',
  getToken: `SELECT t.engine AS token_engine, t.execution_id AS token_execution_id, t.secret_hash,
               e.engine, e.execution_id, e.workflow_id, e.metadata::text AS metadata, e.status,
               e.started_at, e.deadline, e.ended_at, e.status_list, e.status_idx
             FROM wfid_request_tokens t
             LEFT JOIN wfid_executions e ON e.engine = t.engine AND e.execution_id = t.execution_id
             WHERE t.token_id = $1`,
  // One statement deletes a batch of executions and their tokens atomically.
  collect: `WITH gone AS (
              DELETE FROM wfid_executions WHERE (engine, execution_id) IN (
                SELECT engine, execution_id FROM wfid_executions
                WHERE coalesce(ended_at, deadline) < $1 LIMIT ${COLLECT_BATCH})
              RETURNING engine, execution_id),
            tokens AS (DELETE FROM wfid_request_tokens
                       WHERE (engine, execution_id) IN (SELECT engine, execution_id FROM gone))
            SELECT count(*)::int AS deleted FROM gone`,
  listKeys: 'SELECT record FROM wfid_key_states ORDER BY kid',
  putKey: `INSERT INTO wfid_key_states (kid, record) VALUES ($1, $2::jsonb)
           ON CONFLICT (kid) DO UPDATE SET record = excluded.record`,
  // The database clock decides expiry, so replicas with skewed clocks agree on who holds a lease.
  takeLease: `INSERT INTO wfid_leases (name, holder, until)
              VALUES ($1, $2, clock_timestamp() + $3 * interval '1 millisecond')
              ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, until = excluded.until
              WHERE wfid_leases.holder = excluded.holder OR wfid_leases.until <= clock_timestamp()`,
  releaseLease: 'DELETE FROM wfid_leases WHERE name = $1 AND holder = $2',
  // Takes up to $1 entries of the newest list. FOR UPDATE serialises concurrent reservations:
  // a second one waits for the first to commit, then reads the list's new next_idx.
  reserveEntries: `WITH newest AS (
                     SELECT list_id, size, next_idx FROM wfid_status_lists
                     WHERE list_id = (SELECT max(list_id) FROM wfid_status_lists) FOR UPDATE),
                   taken AS (
                     UPDATE wfid_status_lists s SET next_idx = least(n.next_idx + $1::integer, n.size)
                     FROM newest n WHERE s.list_id = n.list_id AND n.next_idx < n.size
                     RETURNING s.list_id, n.next_idx AS idx, s.next_idx - n.next_idx AS count)
                   SELECT list_id, idx, count FROM taken`,
  // Opens the next list only while the newest is full; a replica that loses the race retries.
  openList: `INSERT INTO wfid_status_lists (list_id, size, next_idx, created_at)
             SELECT coalesce(max(list_id) + 1, (SELECT list_id FROM wfid_status_list_first)), $2::integer,
               least($1::integer, $2::integer), $3::bigint
             FROM wfid_status_lists
             HAVING NOT EXISTS (SELECT 1 FROM wfid_status_lists
               WHERE list_id = (SELECT max(list_id) FROM wfid_status_lists) AND next_idx < size)
             ON CONFLICT (list_id) DO NOTHING
             RETURNING list_id, 0 AS idx, next_idx AS count`,
  lists: 'SELECT list_id, size, created_at FROM wfid_status_lists ORDER BY list_id',
  listSize: 'SELECT size FROM wfid_status_lists WHERE list_id = $1',
  running: `SELECT status_idx AS idx, deadline FROM wfid_executions
            WHERE status_list = $1 AND status = 'running'`,
} as const;

export interface PostgresStoreOptions {
  logger?: StoreLogger;
  /** Connections per replica (default 10). */
  poolSize?: number;
  /** Bound on opening a connection or waiting for a free one (default 2000 ms). */
  connectTimeoutMs?: number;
  /** Server-side statement_timeout; the client gives up 1 s later (default 2500 ms). */
  statementTimeoutMs?: number;
  /**
   * Registrations and ends that arrive together share one statement and one commit (default
   * true). Off only to measure what it buys (bench/registration-stores.ts).
   */
  groupCommit?: boolean;
}

/**
 * Shared store for several replicas (`postgres://…`). Every commit is durable before a
 * method resolves as long as the server keeps its defaults (`fsync = on`,
 * `synchronous_commit = on`); open() warns when it sees them turned off.
 */
export class PostgresStore implements ExecutionStore {
  readonly kind = 'postgres';
  readonly keyStates: KeyStateStore;
  readonly statusLists: StatusListStore;
  readonly audit: PostgresAuditStore;
  private readonly writes: PostgresWrites;

  private constructor(
    private readonly pool: Pool,
    private readonly DatabaseError: typeof PgDatabaseError,
    groupCommit: boolean,
  ) {
    this.writes = new PostgresWrites(
      (name, text, values) => this.guard(() => this.pool.query({ name, text, values })),
      (err) => retriesAlone(err, this.DatabaseError),
      groupCommit,
    );
    this.keyStates = {
      listKeyStates: async () =>
        (await this.run<{ record: KeyStateRecord }>('listKeys', [])).rows.map((r) => r.record),
      putKeyState: async (record) =>
        void (await this.run('putKey', [record.kid, JSON.stringify(record)])),
      acquireLease: async (name, holder, ttlMs) =>
        (await this.run('takeLease', [name, holder, ttlMs])).rowCount! > 0,
      releaseLease: async (name, holder) => void (await this.run('releaseLease', [name, holder])),
    };
    this.statusLists = {
      reserveStatusEntries: async (count, size, now) => {
        type Block = { list_id: number; idx: number; count: number };
        for (let attempt = 0; attempt < RESERVE_ATTEMPTS; attempt++) {
          const row =
            (await this.run<Block>('reserveEntries', [count])).rows[0] ??
            (await this.run<Block>('openList', [count, size, now])).rows[0];
          if (row) return { list: row.list_id, idx: row.idx, count: row.count };
        }
        throw new WfidError(
          'ERR_STORE_UNAVAILABLE',
          'postgres store: status list reservation kept racing',
          { retryAfter: 1 },
        );
      },
      listStatusLists: async () =>
        (
          await this.run<{ list_id: number; size: number; created_at: string }>('lists', [])
        ).rows.map((row) => ({
          list: row.list_id,
          size: row.size,
          createdAt: Number(row.created_at),
        })),
      readStatusList: async (list) => {
        const size = (await this.run<{ size: number }>('listSize', [list])).rows[0]?.size;
        if (size === undefined) return undefined;
        const { rows } = await this.run<{ idx: number; deadline: string }>('running', [list]);
        return {
          size,
          running: rows.map((row) => ({ idx: row.idx, deadline: Number(row.deadline) })),
        };
      },
    };
    this.audit = new PostgresAuditStore((text, values, name) =>
      this.guard(() => this.pool.query({ text, values, ...(name ? { name } : {}) })),
    );
  }

  /** Connects, runs pending migrations under an advisory lock, and checks durability settings. */
  static async open(url: string, options: PostgresStoreOptions = {}): Promise<PostgresStore> {
    const pg = await importDriver<typeof import('pg')>('postgres', 'pg');
    const statementTimeout = options.statementTimeoutMs ?? 2500;
    const pool = new pg.Pool({
      connectionString: url,
      max: options.poolSize ?? 10,
      connectionTimeoutMillis: options.connectTimeoutMs ?? 2000,
      statement_timeout: statementTimeout,
      // Bounds a request even when the server hangs without closing the connection.
      query_timeout: statementTimeout + 1000,
      idle_in_transaction_session_timeout: 10_000,
      keepAlive: true,
      application_name: 'wfid',
    });
    // A pooled idle connection dropped by the server emits here; without a listener it would
    // crash the process. The pool discards it and connects afresh on the next request.
    pool.on('error', (err) =>
      options.logger?.warn({ err: err.message }, 'postgres store: connection lost'),
    );
    const store = new PostgresStore(pool, pg.DatabaseError, options.groupCommit ?? true);
    try {
      await store.migrate();
      await store.checkDurability(options.logger);
    } catch (err) {
      await pool.end().catch(() => {});
      throw err instanceof WfidError
        ? err
        : new WfidError('ERR_STORE_UNAVAILABLE', `cannot open postgres store ${redactUrl(url)}`, {
            cause: err,
          });
    }
    return store;
  }

  async insertExecution(record: ExecutionRecord, requestToken?: NewRequestToken) {
    const inserted = await this.writes.insert(toRow(record), requestToken);
    return {
      inserted,
      record: inserted ? record : (await this.getExecution(record.engine, record.executionId))!,
    };
  }

  async getExecution(engine: string, executionId: string) {
    const row = (await this.run<ExecutionRow>('get', [engine, executionId])).rows[0];
    return row && fromRow(row);
  }

  async endExecution(engine: string, executionId: string, status: EndStatus, endedAt: number) {
    // Answered after the commit: the UPDATE is flushed to the WAL before the row comes back.
    const row = await this.writes.end(engine, executionId, status, endedAt);
    // Not running (or unknown): a fresh read sees whichever end committed first.
    return row ? fromRow(row) : this.getExecution(engine, executionId);
  }

  async moveExecution(
    engine: string,
    executionId: string,
    from: RunState,
    to: RunState,
    deadline: number,
    now: number,
  ) {
    const row = (
      await this.run<ExecutionRow>('move', [engine, executionId, from, to, deadline, now])
    ).rows[0];
    return row ? fromRow(row) : this.getExecution(engine, executionId);
  }

  async addRequestToken(tokenId: string, token: StoredRequestToken) {
    await this.run('addToken', [tokenId, token.engine, token.executionId, token.secretHash]);
  }

  async getRequestToken(tokenId: string) {
    const row = (
      await this.run<
        ExecutionRow & { token_engine: string; token_execution_id: string; secret_hash: Buffer }
      >('getToken', [tokenId])
    ).rows[0];
    if (!row) return undefined;
    return {
      engine: row.token_engine,
      executionId: row.token_execution_id,
      secretHash: row.secret_hash,
      execution: row.execution_id === null ? undefined : fromRow(row),
    };
  }

  async collectExecutions(before: number) {
    let total = 0;
    for (;;) {
      const deleted = (await this.run<{ deleted: number }>('collect', [before])).rows[0]!.deleted;
      total += deleted;
      if (deleted < COLLECT_BATCH) return total;
    }
  }

  async ping() {
    await this.guard(() => this.pool.query('SELECT 1'));
  }

  async close() {
    await this.pool.end();
  }

  private run<R extends QueryResultRow = QueryResultRow>(
    name: keyof typeof SQL,
    values: unknown[],
  ) {
    return this.guard(() => this.pool.query<R>({ name: `wfid_${name}`, text: SQL[name], values }));
  }

  /**
   * Lost connections, timeouts, shutdowns, failover to a read-only standby: the store is
   * unavailable (503 with Retry-After). Other SQL errors are bugs and propagate as they are.
   */
  private async guard<T>(query: () => Promise<T>): Promise<T> {
    try {
      return await query();
    } catch (err) {
      if (err instanceof this.DatabaseError && !isTransient(err.code)) throw err;
      throw storeUnavailable('postgres', err);
    }
  }

  private async migrate(): Promise<void> {
    const client = await this.guard(() => this.pool.connect());
    let broken: Error | undefined;
    try {
      // Another replica may hold the lock while it migrates: wait longer than a request would.
      await client.query("SET statement_timeout = '60s'");
      await client.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK]);
      await client.query(
        'CREATE TABLE IF NOT EXISTS wfid_migrations (version integer PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())',
      );
      const { rows } = await client.query<{ version: number }>(
        'SELECT coalesce(max(version), 0)::int AS version FROM wfid_migrations',
      );
      for (let version = rows[0]!.version + 1; version <= MIGRATIONS.length; version++) {
        await inTransaction(client, async () => {
          await client.query(MIGRATIONS[version - 1]!);
          await client.query('INSERT INTO wfid_migrations (version) VALUES ($1)', [version]);
        });
      }
    } catch (err) {
      broken = err as Error;
      if (err instanceof this.DatabaseError && !isTransient(err.code)) {
        // Typically a missing CREATE privilege: the operator has to fix the database grants.
        throw new WfidError(
          'ERR_CONFIG',
          `store: postgres schema migration failed (${err.code}): ${err.message}`,
          {
            cause: err,
          },
        );
      }
      throw storeUnavailable('postgres', err);
    } finally {
      // Destroy the session rather than pool it: that releases the advisory lock and its settings.
      client.release(broken ?? true);
    }
  }

  private async checkDurability(logger: StoreLogger | undefined): Promise<void> {
    const { rows } = await this.guard(() =>
      this.pool.query<{ fsync: string; sync: string }>(
        "SELECT current_setting('fsync') AS fsync, current_setting('synchronous_commit') AS sync",
      ),
    );
    const { fsync, sync } = rows[0]!;
    if (fsync !== 'on' || sync === 'off') {
      logger?.warn(
        { fsync, synchronous_commit: sync },
        'postgres store: fsync or synchronous_commit is off, so an end of execution answered 200 may be lost in a crash',
      );
    }
  }
}

/**
 * SQLSTATE classes that mean "try again later": 08 connection, 40 rollback (serialization,
 * deadlock), 53 resources, 57 operator intervention (shutdown, statement timeout), 58 I/O;
 * and 25006, a write on a read-only standby during failover.
 */
function isTransient(code: string | undefined): boolean {
  return code === '25006' || ['08', '40', '53', '57', '58'].includes(code?.slice(0, 2) ?? '');
}

async function inTransaction(client: PoolClient, body: () => Promise<void>): Promise<void> {
  await client.query('BEGIN');
  try {
    await body();
    await client.query('COMMIT');
  } catch (err) {
    await client.query('ROLLBACK').catch(() => {});
    throw err;
  }
}
