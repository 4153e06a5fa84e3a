import type Database from 'better-sqlite3';
import type { GroupCommit } from '../../executions/stores/sqlite-group-commit.js';
import { AUDIT_COLUMNS, type AuditEvent, type AuditQuery, timePrefix } from '../event.js';
import { type AuditStore, pageOf } from '../store.js';
import { eventOf, listSql } from './sql.js';

/** The audit table, appended to the SQLite store's migrations. No index on kind: a kind
 * filter comes with a time window, which the primary key (ids start with the time) serves. */
export const SQLITE_AUDIT_MIGRATION = `CREATE TABLE audit_events (
     id TEXT PRIMARY KEY, time INTEGER NOT NULL, kind TEXT NOT NULL, engine TEXT,
     execution_id TEXT, workflow_id TEXT, audience TEXT, jti TEXT, kid TEXT,
     outcome TEXT NOT NULL, reason TEXT) WITHOUT ROWID;
   CREATE INDEX audit_events_execution ON audit_events (execution_id, id);
   CREATE INDEX audit_events_workflow ON audit_events (workflow_id, id);`;

const PRUNE_BATCH = 2000;
/** How often a batch waits for the WAL to reach disk (the batches in between ride along). */
const SYNC_INTERVAL_MS = 1000;
/** Rows per INSERT statement: fewer statement executions per batch. */
const ROWS_PER_INSERT = 50;

export class SqliteAuditStore implements AuditStore {
  private readonly insertMany;
  private readonly insertOne;
  private readonly prune;
  private lastSync = 0;
  private trailingSync?: NodeJS.Timeout;

  constructor(
    private readonly db: Database.Database,
    /** The executions store's writer (GroupCommit): commits and WAL syncs off the event loop. */
    private readonly wal: Pick<GroupCommit, 'commitUnsynced' | 'durable'>,
  ) {
    const insert = (rows: number) =>
      db.prepare(
        `INSERT OR IGNORE INTO audit_events (${AUDIT_COLUMNS.join(', ')}) VALUES ${Array.from(
          { length: rows },
          () => `(${AUDIT_COLUMNS.map(() => '?').join(', ')})`,
        ).join(', ')}`,
      );
    this.insertMany = insert(ROWS_PER_INSERT);
    this.insertOne = insert(1);
    this.prune = db.prepare(
      `DELETE FROM audit_events WHERE id IN (SELECT id FROM audit_events WHERE id < ? ORDER BY id LIMIT ${PRUNE_BATCH})`,
    );
  }

  async appendEvents(events: readonly AuditEvent[]) {
    const values = (from: number, count: number) => {
      const row: unknown[] = [];
      for (let index = from; index < from + count; index++) {
        const event = events[index]!;
        for (const column of AUDIT_COLUMNS) row.push(event[column]);
      }
      return row;
    };
    // The commit does not wait for an fsync on the event loop (one disk flush per batch would
    // stall every mint). The WAL is synced off the loop at most once a second for the trail
    // (a sync per batch cost ~30 µs of kernel writeback per token), so an event is on disk
    // within about a second of its batch, as it waited up to a flush interval in memory before.
    this.wal.commitUnsynced(() => {
      let index = 0;
      for (; index + ROWS_PER_INSERT <= events.length; index += ROWS_PER_INSERT)
        this.insertMany.run(values(index, ROWS_PER_INSERT));
      for (; index < events.length; index++) this.insertOne.run(values(index, 1));
    });
    const sinceSync = Date.now() - this.lastSync;
    if (sinceSync >= SYNC_INTERVAL_MS) {
      this.lastSync = Date.now();
      await this.wal.durable();
    } else {
      // The last batch of a burst is synced too, a second after the previous sync at most.
      this.trailingSync ??= setTimeout(() => {
        this.trailingSync = undefined;
        this.lastSync = Date.now();
        // A failed sync fails the store (GroupCommit); the trail's next batch reports it.
        this.wal.durable().catch(() => {});
      }, SYNC_INTERVAL_MS - sinceSync).unref();
    }
  }

  async listEvents(query: AuditQuery) {
    const { text, values } = listSql('audit_events', query, () => '?');
    const rows = this.db.prepare(text).all(...values) as Record<string, unknown>[];
    return pageOf(rows.map(eventOf), query.limit);
  }

  /** In batches, yielding between them: SQLite runs on the event loop, which must keep serving. */
  async pruneEvents(before: number) {
    let total = 0;
    for (;;) {
      const deleted = this.prune.run(timePrefix(before)).changes;
      total += deleted;
      if (deleted < PRUNE_BATCH) return total;
      await new Promise((resolve) => setImmediate(resolve));
    }
  }
}
