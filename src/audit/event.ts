import { WfidError } from '../errors.js';

/**
 * What the audit trail records. Never a token, a request token, an engine or admin token or key
 * material: only identifiers (execution, workflow, jti, kid) and outcomes.
 */
export const AUDIT_KINDS = [
  'execution.registered',
  'execution.ended',
  'execution.waiting',
  'execution.resumed',
  'token.minted',
  'token.introspected',
  'request.refused',
  'key.published',
  'key.activated',
  'key.retiring',
  'key.retired',
  'console.login',
] as const;
export type AuditKind = (typeof AUDIT_KINDS)[number];

/** An event's `engine` is the engine credential's name; this is the default engine's. */
export { DEFAULT_ENGINE } from '../executions/engine.js';

/** One stored event. `time` is epoch milliseconds; absent values are null, never undefined. */
export interface AuditEvent {
  /** Sortable and unique: the time in base36, then a per-process counter and a random suffix. */
  id: string;
  time: number;
  kind: AuditKind;
  engine: string | null;
  execution_id: string | null;
  workflow_id: string | null;
  /** The audience requested; an array audience is kept as its members joined by a space. */
  audience: string | null;
  jti: string | null;
  kid: string | null;
  outcome: string;
  reason: string | null;
}

/** What a caller records; the trail adds id and time. */
export type AuditInput = Partial<Omit<AuditEvent, 'id' | 'time' | 'kind' | 'outcome'>> &
  Pick<AuditEvent, 'kind' | 'outcome'>;

export const AUDIT_COLUMNS = [
  'id',
  'time',
  'kind',
  'engine',
  'execution_id',
  'workflow_id',
  'audience',
  'jti',
  'kid',
  'outcome',
  'reason',
] as const;

const TIME_DIGITS = 9;
const ID_PATTERN = /^[0-9a-z]{9}-[0-9a-z]{6}-[0-9a-f]{6}$/;
const processSuffix = Math.floor(Math.random() * 0xffffff)
  .toString(16)
  .padStart(6, '0');
let counter = 0;

/** The id prefix of a time: every id of an event at `time` or later sorts at or after it. */
export function timePrefix(time: number): string {
  return Math.max(0, Math.floor(time)).toString(36).padStart(TIME_DIGITS, '0');
}

/** Events come many per millisecond under load: the last prefix is reused. */
let lastPrefix = { time: -1, prefix: '' };

export function newEventId(time: number): string {
  counter = (counter + 1) % 36 ** 6;
  if (lastPrefix.time !== time) lastPrefix = { time, prefix: timePrefix(time) };
  return `${lastPrefix.prefix}-${counter.toString(36).padStart(6, '0')}-${processSuffix}`;
}

export function toEvent(input: AuditInput, time: number): AuditEvent {
  return {
    id: newEventId(time),
    time,
    kind: input.kind,
    engine: input.engine ?? null,
    execution_id: input.execution_id ?? null,
    workflow_id: input.workflow_id ?? null,
    audience: input.audience ?? null,
    jti: input.jti ?? null,
    kid: input.kid ?? null,
    outcome: input.outcome,
    reason: input.reason ?? null,
  };
}

export function audienceText(audience: string | readonly string[]): string {
  return typeof audience === 'string' ? audience : audience.join(' ');
}

/** The filters of GET /v1/audit, `wfid audit` and the console. Times are epoch milliseconds. */
export interface AuditFilter {
  execution_id?: string;
  workflow_id?: string;
  audience?: string;
  kid?: string;
  kind?: AuditKind;
  since?: number;
  until?: number;
}

export const FILTER_FIELDS = ['execution_id', 'workflow_id', 'audience', 'kid', 'kind'] as const;

export interface AuditQuery {
  filter: AuditFilter;
  /** Continue after (asc) or before (desc) this event id. */
  after?: string;
  order: 'asc' | 'desc';
  limit: number;
}

export interface AuditPage {
  events: AuditEvent[];
  /** The id to continue from; absent when nothing more matched. */
  next?: string;
}

export function matches(event: AuditEvent, filter: AuditFilter): boolean {
  for (const field of FILTER_FIELDS) {
    const wanted = filter[field];
    if (wanted !== undefined && event[field] !== wanted) return false;
  }
  if (filter.since !== undefined && event.time < filter.since) return false;
  if (filter.until !== undefined && event.time > filter.until) return false;
  return true;
}

/**
 * The id bounds of a query: `low` inclusive, `high` exclusive. They combine the time window
 * with the cursor, so every store pages the same way.
 */
export function idBounds(query: AuditQuery): { low?: string; high?: string; afterId?: string } {
  const { since, until } = query.filter;
  return {
    low: since === undefined ? undefined : timePrefix(since),
    high: until === undefined ? undefined : timePrefix(until + 1),
    afterId: query.after,
  };
}

/** Cursors are opaque to clients: base64url of a versioned position. */
export function encodeCursor(id: string): string {
  return Buffer.from(`v1:${id}`).toString('base64url');
}

export function decodeCursor(cursor: string): string {
  const text = Buffer.from(cursor, 'base64url').toString('utf8');
  const id = text.startsWith('v1:') ? text.slice(3) : '';
  if (!ID_PATTERN.test(id)) throw new WfidError('ERR_INVALID_REQUEST', 'cursor: not a cursor');
  return id;
}
