import type { Redis as RedisClient } from 'ioredis';
import { type AuditEvent, type AuditPage, type AuditQuery, matches, timePrefix } from '../event.js';
import type { AuditStore } from '../store.js';

/**
 * `wfid:audit` is one sorted set with every score 0, so members order by their bytes: each
 * member is `<id>|<event JSON>` and ids start with the time. Range reads (ZRANGEBYLEX) page
 * through time; the other filters are applied here, reading at most SCAN_LIMIT members per
 * call (a page may then be short, with a `next` to continue).
 */
const KEY = 'wfid:audit';
const CHUNK = 500;
const SCAN_LIMIT = 10_000;
const PRUNE_BATCH = 1000;

type Guard = <T>(command: () => Promise<T>) => Promise<T>;

export class RedisAuditStore implements AuditStore {
  constructor(
    private readonly redis: RedisClient,
    private readonly guard: Guard,
  ) {}

  async appendEvents(events: readonly AuditEvent[]) {
    if (events.length === 0) return;
    const args = events.flatMap((event) => {
      const { id, ...rest } = event;
      return [0, `${id}|${JSON.stringify(rest)}`];
    });
    await this.guard(() => this.redis.zadd(KEY, ...args));
  }

  async listEvents(query: AuditQuery): Promise<AuditPage> {
    const asc = query.order === 'asc';
    const { since, until } = query.filter;
    // '|' < '~': "[<id>~" lies after every member of <id>, "(<id>|" before them.
    let low = since === undefined ? '-' : `[${timePrefix(since)}`;
    let high = until === undefined ? '+' : `(${timePrefix(until + 1)}`;
    if (query.after !== undefined) {
      if (asc) low = maxBound(low, `[${query.after}~`);
      else high = minBound(high, `(${query.after}|`);
    }
    const events: AuditEvent[] = [];
    let scanned = 0;
    for (;;) {
      const members = await this.guard(() =>
        asc
          ? this.redis.zrangebylex(KEY, low, high, 'LIMIT', 0, CHUNK)
          : this.redis.zrevrangebylex(KEY, high, low, 'LIMIT', 0, CHUNK),
      );
      for (const member of members) {
        scanned++;
        const event = parse(member);
        if (matches(event, query.filter)) events.push(event);
        if (events.length === query.limit) return { events, next: event.id };
        if (scanned >= SCAN_LIMIT) return { events, next: event.id };
      }
      if (members.length < CHUNK) return { events };
      const last = parse(members.at(-1)!).id;
      if (asc) low = `[${last}~`;
      else high = `(${last}|`;
    }
  }

  /** In bounded steps: Redis serves nothing else while one command runs. */
  async pruneEvents(before: number) {
    let total = 0;
    for (;;) {
      const oldest = await this.guard(() =>
        this.redis.zrangebylex(KEY, '-', `(${timePrefix(before)}`, 'LIMIT', PRUNE_BATCH - 1, 1),
      );
      // Fewer than a batch left: remove the rest at once.
      const upTo = oldest[0] === undefined ? `(${timePrefix(before)}` : `[${oldest[0]}`;
      const removed = await this.guard(() => this.redis.zremrangebylex(KEY, '-', upTo));
      total += removed;
      if (oldest[0] === undefined) return total;
    }
  }
}

function parse(member: string): AuditEvent {
  const bar = member.indexOf('|');
  return { id: member.slice(0, bar), ...JSON.parse(member.slice(bar + 1)) };
}

/** Bounds are "[x", "(x", "-" or "+"; compare the strings behind them. */
function maxBound(a: string, b: string): string {
  if (a === '-') return b;
  return a.slice(1) >= b.slice(1) ? a : b;
}

function minBound(a: string, b: string): string {
  if (a === '+') return b;
  return a.slice(1) <= b.slice(1) ? a : b;
}
