import type { QueryResultRow } from 'pg';
import { AUDIT_COLUMNS, type AuditEvent, type AuditQuery, timePrefix } from '../event.js';
import { type AuditStore, pageOf } from '../store.js';
import { eventOf, listSql } from './sql.js';

/** The audit table, appended to the PostgreSQL store's migrations. No index on kind: a kind
 * filter comes with a time window, which the primary key (ids start with the time) serves. */
export const POSTGRES_AUDIT_MIGRATION = `CREATE TABLE wfid_audit_events (
     id text PRIMARY KEY, time bigint NOT NULL, kind text NOT NULL, engine text,
     execution_id text, workflow_id text, audience text, jti text, kid text,
     outcome text NOT NULL, reason text);
   CREATE INDEX wfid_audit_events_execution ON wfid_audit_events (execution_id, id);
   CREATE INDEX wfid_audit_events_workflow ON wfid_audit_events (workflow_id, id);`;

const PRUNE_BATCH = 5000;
const TYPES: Record<(typeof AUDIT_COLUMNS)[number], string> = {
  id: 'text',
  time: 'bigint',
  kind: 'text',
  engine: 'text',
  execution_id: 'text',
  workflow_id: 'text',
  audience: 'text',
  jti: 'text',
  kid: 'text',
  outcome: 'text',
  reason: 'text',
};
/** A whole batch in one statement: one array parameter per column. */
const INSERT = `INSERT INTO wfid_audit_events (${AUDIT_COLUMNS.join(', ')})
  SELECT * FROM unnest(${AUDIT_COLUMNS.map((column, index) => `$${index + 1}::${TYPES[column]}[]`).join(', ')})
  ON CONFLICT (id) DO NOTHING`;
const PRUNE = `DELETE FROM wfid_audit_events WHERE id IN (
  SELECT id FROM wfid_audit_events WHERE id < $1 ORDER BY id LIMIT ${PRUNE_BATCH})`;

/** Runs one statement through the store's pool and its fault mapping (503 when unreachable). */
export type PostgresQuery = <R extends QueryResultRow>(
  text: string,
  values: unknown[],
  name?: string,
) => Promise<{ rows: R[]; rowCount: number | null }>;

export class PostgresAuditStore implements AuditStore {
  constructor(private readonly query: PostgresQuery) {}

  async appendEvents(events: readonly AuditEvent[]) {
    if (events.length === 0) return;
    const columns = AUDIT_COLUMNS.map((column) => events.map((event) => event[column]));
    await this.query(INSERT, columns, 'wfid_audit_insert');
  }

  async listEvents(query: AuditQuery) {
    const { text, values } = listSql('wfid_audit_events', query, (index) => `$${index}`);
    const { rows } = await this.query<Record<string, unknown>>(text, values);
    return pageOf(rows.map(eventOf), query.limit);
  }

  async pruneEvents(before: number) {
    let total = 0;
    for (;;) {
      const deleted =
        (await this.query(PRUNE, [timePrefix(before)], 'wfid_audit_prune')).rowCount ?? 0;
      total += deleted;
      if (deleted < PRUNE_BATCH) return total;
    }
  }
}
