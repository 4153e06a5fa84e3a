import { type AuditEvent, type AuditQuery, idBounds, matches, timePrefix } from '../event.js';
import { type AuditStore, pageOf } from '../store.js';

export class MemoryAuditStore implements AuditStore {
  private events: AuditEvent[] = [];

  async appendEvents(events: readonly AuditEvent[]) {
    this.events.push(...events.map((event) => ({ ...event })));
    this.events.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  }

  async listEvents(query: AuditQuery) {
    const { afterId } = idBounds(query);
    const ordered = query.order === 'asc' ? this.events : [...this.events].reverse();
    const rows = ordered.filter(
      (event) =>
        matches(event, query.filter) &&
        (afterId === undefined ||
          (query.order === 'asc' ? event.id > afterId : event.id < afterId)),
    );
    return pageOf(
      rows.slice(0, query.limit + 1).map((event) => ({ ...event })),
      query.limit,
    );
  }

  async pruneEvents(before: number) {
    const bound = timePrefix(before);
    const kept = this.events.filter((event) => event.id >= bound);
    const pruned = this.events.length - kept.length;
    this.events = kept;
    return pruned;
  }
}
