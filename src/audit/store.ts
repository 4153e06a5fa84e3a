import type { AuditEvent, AuditPage, AuditQuery } from './event.js';

export type { AuditPage };

/**
 * Where audit events are kept: the same store as executions (memory, SQLite, PostgreSQL,
 * Redis), each in its own table or key. All pass test/stores/audit-suite.ts.
 */
export interface AuditStore {
  /** Appends a batch durably (one transaction, statement or command). */
  appendEvents(events: readonly AuditEvent[]): Promise<void>;
  /** Events matching the query in id order (= time order), at most `limit`. */
  listEvents(query: AuditQuery): Promise<AuditPage>;
  /** Deletes events older than `before` (epoch ms); returns how many. */
  pruneEvents(before: number): Promise<number>;
}

/** A page from `limit + 1` rows read in order: the extra row only says that more exist. */
export function pageOf(rows: AuditEvent[], limit: number): AuditPage {
  if (rows.length <= limit) return { events: rows };
  const events = rows.slice(0, limit);
  return { events, next: events.at(-1)!.id };
}
