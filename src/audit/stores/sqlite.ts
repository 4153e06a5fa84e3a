import type Database from 'better-sqlite3';
import { AUDIT_COLUMNS, type AuditEvent, type AuditQuery, timePrefix } from '../event.js';
import { type AuditStore, pageOf } from '../store.js';
import { eventOf, listSql } from './sql.js';

/** The audit table, appended to the SQLite store's migrations. */
export const SQLITE_AUDIT_MIGRATION = `CREATE TABLE audit_events (
     id TEXT PRIMARY KEY, time INTEGER NOT NULL, kind TEXT NOT NULL, engine TEXT,
     execution_id TEXT, workflow_id TEXT, audience TEXT, jti TEXT, kid TEXT,
     outcome TEXT NOT NULL, reason TEXT);
   CREATE INDEX audit_events_execution ON audit_events (execution_id, id);
   CREATE INDEX audit_events_workflow ON audit_events (workflow_id, id);
   CREATE INDEX audit_events_kind ON audit_events (kind, id);`;

export class SqliteAuditStore implements AuditStore {
  private readonly insert;
  private readonly prune;

  constructor(private readonly db: Database.Database) {
    this.insert = db.prepare(
      `INSERT OR IGNORE INTO audit_events (${AUDIT_COLUMNS.join(', ')})
       VALUES (${AUDIT_COLUMNS.map((column) => `@${column}`).join(', ')})`,
    );
    this.prune = db.prepare('DELETE FROM audit_events WHERE id < ?');
  }

  async appendEvents(events: readonly AuditEvent[]) {
    this.db.transaction(() => {
      for (const event of events) this.insert.run(event);
    })();
  }

  async listEvents(query: AuditQuery) {
    const { text, values } = listSql('audit_events', query, () => '?');
    const rows = this.db.prepare(text).all(...values) as Record<string, unknown>[];
    return pageOf(rows.map(eventOf), query.limit);
  }

  async pruneEvents(before: number) {
    return this.prune.run(timePrefix(before)).changes;
  }
}
