import type { QueryResult, QueryResultRow } from 'pg';
import { WfidError } from '../../errors.js';
import type { EndStatus } from '../execution.js';
import type { NewRequestToken } from '../store.js';
import type { ExecutionRow } from './rows.js';
import { WriteBatch, type WriteOutcome } from './write-batch.js';

/** Runs one named statement: the store's pool, with its error mapping (transient → 503). */
export type Query = <R extends QueryResultRow>(
  name: string,
  text: string,
  values: unknown[],
) => Promise<QueryResult<R>>;

type Write =
  | { kind: 'insert'; row: ExecutionRow; requestToken: NewRequestToken | undefined }
  | { kind: 'end'; engine: string; executionId: string; status: EndStatus; endedAt: number };
/** An insert answers whether it inserted; an end answers the row it ended, or undefined. */
type Written = boolean | ExecutionRow | undefined;

const ROW_COLUMNS =
  'engine, execution_id, workflow_id, metadata::text AS metadata, status, started_at, deadline, ended_at, status_list, status_idx';

const SQL = {
  // One write alone: a new execution and, when given, its request token in one statement.
  insert: `WITH inserted AS (
             INSERT INTO wfid_executions (engine, execution_id, workflow_id, metadata, status,
               started_at, deadline, ended_at, status_list, status_idx)
             VALUES ($1, $2, $3, $4::jsonb, $5, $6, $7, $8, $9, $10)
             ON CONFLICT (engine, execution_id) DO NOTHING
             RETURNING engine, execution_id),
           token AS (
             INSERT INTO wfid_request_tokens (token_id, engine, execution_id, secret_hash)
             SELECT $11::text, engine, execution_id, $12::bytea FROM inserted
             WHERE $11::text IS NOT NULL)
           SELECT count(*)::int AS inserted FROM inserted`,
  end: `UPDATE wfid_executions SET status = $3, ended_at = $4
        WHERE engine = $1 AND execution_id = $2 AND status IN ('running', 'waiting')
        RETURNING ${ROW_COLUMNS}`,
  // A group: every insert and end in one statement, so one round trip and one commit. The
  // sub-statements share one snapshot, which is why a group never names an execution twice
  // (WriteBatch). Inserts go in key order, so two replicas' groups lock rows in the same order.
  group: `WITH new AS (
            SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[],
              $6::bigint[], $7::bigint[], $8::bigint[], $9::integer[], $10::integer[], $11::text[],
              $12::bytea[])
            AS n(engine, execution_id, workflow_id, metadata, status, started_at, deadline,
              ended_at, status_list, status_idx, token_id, secret_hash)),
          inserted AS (
            INSERT INTO wfid_executions (engine, execution_id, workflow_id, metadata, status,
              started_at, deadline, ended_at, status_list, status_idx)
            SELECT engine, execution_id, workflow_id, metadata::jsonb, status, started_at, deadline,
              ended_at, status_list, status_idx FROM new ORDER BY engine, execution_id
            ON CONFLICT (engine, execution_id) DO NOTHING
            RETURNING engine, execution_id),
          tokens AS (
            INSERT INTO wfid_request_tokens (token_id, engine, execution_id, secret_hash)
            SELECT n.token_id, n.engine, n.execution_id, n.secret_hash
            FROM new n JOIN inserted i ON i.engine = n.engine AND i.execution_id = n.execution_id
            WHERE n.token_id IS NOT NULL),
          finished AS (
            UPDATE wfid_executions e SET status = x.status, ended_at = x.ended_at
            FROM unnest($13::text[], $14::text[], $15::text[], $16::bigint[])
              AS x(engine, execution_id, status, ended_at)
            WHERE e.engine = x.engine AND e.execution_id = x.execution_id
              AND e.status IN ('running', 'waiting')
            RETURNING e.engine, e.execution_id, e.workflow_id, e.metadata::text AS metadata,
              e.status, e.started_at, e.deadline, e.ended_at, e.status_list, e.status_idx)
          SELECT true AS is_end, * FROM finished
          UNION ALL
          SELECT false, engine, execution_id, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL
          FROM inserted`,
} as const;

/** SQLSTATE 40P01: PostgreSQL broke a lock cycle by failing this statement. */
const DEADLOCK_DETECTED = '40P01';

/**
 * Whether a failed group statement is retried write by write: an SQL error of the statement
 * itself (one write's value; the store's guard() turned every lost-server error into
 * ERR_STORE_UNAVAILABLE), or a deadlock with another replica's group (ends lock rows in the
 * join's order), which the guard reports as unavailable but which each write alone survives.
 */
export function retriesAlone(
  err: unknown,
  DatabaseError: new (...args: never[]) => Error & { code?: string },
): boolean {
  if (err instanceof DatabaseError) return true;
  return (
    err instanceof WfidError &&
    err.cause instanceof DatabaseError &&
    err.cause.code === DEADLOCK_DETECTED
  );
}

/**
 * The PostgreSQL store's registrations and ends. Those that arrive together are group-committed
 * (WriteBatch): one statement, one transaction, one WAL flush for all of them, each answered
 * only after the commit. A group that fails on one bad write (an SQL error, not a lost server)
 * is run again write by write, so only that write fails.
 */
export class PostgresWrites {
  private readonly batch: WriteBatch<Write, Written> | undefined;

  constructor(
    private readonly query: Query,
    /**
     * True when the group may be retried write by write: an error of the statement itself (one
     * write's value) or a deadlock; false for a lost or unavailable server.
     */
    private readonly isStatementError: (err: unknown) => boolean,
    groupCommit: boolean,
  ) {
    if (groupCommit) this.batch = new WriteBatch((writes) => this.commit(writes), keyOf);
  }

  /** Inserts the execution (and its request token) unless it exists; true when it inserted. */
  async insert(row: ExecutionRow, requestToken: NewRequestToken | undefined): Promise<boolean> {
    return (await this.write({ kind: 'insert', row, requestToken })) as boolean;
  }

  /** Ends a running or waiting execution; the ended row, or undefined when nothing changed. */
  async end(
    engine: string,
    executionId: string,
    status: EndStatus,
    endedAt: number,
  ): Promise<ExecutionRow | undefined> {
    return (await this.write({ kind: 'end', engine, executionId, status, endedAt })) as
      | ExecutionRow
      | undefined;
  }

  private write(write: Write): Promise<Written> {
    return this.batch ? this.batch.run(write) : this.alone(write);
  }

  private async commit(writes: Write[]): Promise<WriteOutcome<Written>[]> {
    if (writes.length === 1) return [await settle(this.alone(writes[0]!))];
    let rows: (ExecutionRow & { is_end: boolean })[];
    try {
      rows = (
        await this.query<ExecutionRow & { is_end: boolean }>(
          'wfid_write_group',
          SQL.group,
          groupValues(writes),
        )
      ).rows;
    } catch (err) {
      if (!this.isStatementError(err)) throw err;
      // The statement rolled back as a whole: find the write that breaks it (or, after a
      // deadlock, let each go on its own), alone.
      return Promise.all(writes.map((write) => settle(this.alone(write))));
    }
    const inserted = new Set<string>();
    const ended = new Map<string, ExecutionRow>();
    for (const { is_end: isEnd, ...row } of rows) {
      const key = rowKey(row.engine, row.execution_id);
      if (isEnd) ended.set(key, row);
      else inserted.add(key);
    }
    return writes.map((write) => ({
      ok: true,
      value: write.kind === 'insert' ? inserted.has(keyOf(write)) : ended.get(keyOf(write)),
    }));
  }

  private async alone(write: Write): Promise<Written> {
    if (write.kind === 'end') {
      const { engine, executionId, status, endedAt } = write;
      return (
        await this.query<ExecutionRow>('wfid_end', SQL.end, [engine, executionId, status, endedAt])
      ).rows[0];
    }
    const values = insertValues(write.row, write.requestToken);
    return (
      (await this.query<{ inserted: number }>('wfid_insert', SQL.insert, values)).rows[0]!
        .inserted > 0
    );
  }
}

/** A new execution's row and its request token, in the order of the statements' parameters. */
function insertValues(row: ExecutionRow, requestToken: NewRequestToken | undefined): unknown[] {
  return [
    row.engine,
    row.execution_id,
    row.workflow_id,
    row.metadata,
    row.status,
    row.started_at,
    row.deadline,
    row.ended_at,
    row.status_list,
    row.status_idx,
    requestToken?.tokenId ?? null,
    requestToken?.secretHash ?? null,
  ];
}

/** The group statement's parameters: one array per column, the inserts' 12 then the ends' 4. */
function groupValues(writes: Write[]): unknown[][] {
  const columns: unknown[][] = Array.from({ length: 16 }, () => []);
  const push = (first: number, values: unknown[]) => {
    for (const [index, value] of values.entries()) columns[first + index]!.push(value);
  };
  for (const write of writes) {
    if (write.kind === 'insert') push(0, insertValues(write.row, write.requestToken));
    else push(12, [write.engine, write.executionId, write.status, write.endedAt]);
  }
  return columns;
}

function keyOf(write: Write): string {
  return write.kind === 'insert'
    ? rowKey(write.row.engine, write.row.execution_id)
    : rowKey(write.engine, write.executionId);
}

function rowKey(engine: string, executionId: string): string {
  return JSON.stringify([engine, executionId]);
}

async function settle<T>(promise: Promise<T>): Promise<WriteOutcome<T>> {
  try {
    return { ok: true, value: await promise };
  } catch (error) {
    return { ok: false, error };
  }
}
