import { parseDuration } from '../config/duration.js';
import { WfidError } from '../errors.js';
import {
  AUDIT_KINDS,
  type AuditEvent,
  type AuditFilter,
  type AuditKind,
  type AuditQuery,
  decodeCursor,
  FILTER_FIELDS,
} from './event.js';

export const DEFAULT_LIMIT = 100;
export const MAX_LIMIT = 1000;
const MAX_VALUE_LENGTH = 512;

/**
 * The query of GET /v1/audit (and the console's filters) from query-string values:
 * `execution_id`, `workflow_id`, `audience`, `kid`, `kind`, `since`, `until` (an ISO 8601 time,
 * or a duration such as `15m` meaning that long ago), `cursor`, `limit`, `order` (asc | desc).
 */
export function parseAuditQuery(params: Record<string, unknown>, now = Date.now()): AuditQuery {
  const filter: AuditFilter = {};
  for (const field of FILTER_FIELDS) {
    const value = single(params, field);
    if (value === undefined) continue;
    if (value.length > MAX_VALUE_LENGTH)
      throw new WfidError(
        'ERR_INVALID_REQUEST',
        `${field}: at most ${MAX_VALUE_LENGTH} characters`,
      );
    if (field === 'kind' && !(AUDIT_KINDS as readonly string[]).includes(value))
      throw new WfidError('ERR_INVALID_REQUEST', `kind: one of ${AUDIT_KINDS.join(', ')}`);
    (filter as Record<string, string>)[field] = value as AuditKind;
  }
  for (const field of ['since', 'until'] as const) {
    const value = single(params, field);
    if (value !== undefined) filter[field] = parseTime(field, value, now);
  }
  const cursor = single(params, 'cursor');
  const limitText = single(params, 'limit');
  const limit = limitText === undefined ? DEFAULT_LIMIT : Number(limitText);
  if (!Number.isInteger(limit) || limit < 1 || limit > MAX_LIMIT)
    throw new WfidError('ERR_INVALID_REQUEST', `limit: a whole number from 1 to ${MAX_LIMIT}`);
  const order = single(params, 'order') ?? 'asc';
  if (order !== 'asc' && order !== 'desc')
    throw new WfidError('ERR_INVALID_REQUEST', 'order: asc or desc');
  return {
    filter,
    order,
    limit,
    ...(cursor === undefined ? {} : { after: decodeCursor(cursor) }),
  };
}

function single(params: Record<string, unknown>, name: string): string | undefined {
  const value = params[name];
  if (value === undefined || value === '') return undefined;
  if (typeof value !== 'string')
    throw new WfidError('ERR_INVALID_REQUEST', `${name}: give it once`);
  return value;
}

function parseTime(field: string, text: string, now: number): number {
  const ago = parseDuration(text);
  if (ago !== null) return now - ago;
  const time = /^\d{4}-\d{2}-\d{2}/.test(text) ? Date.parse(text) : Number.NaN;
  if (!Number.isFinite(time))
    throw new WfidError(
      'ERR_INVALID_REQUEST',
      `${field}: an ISO 8601 time (2026-11-30T10:00:00Z) or a duration ago (15m, 24h)`,
    );
  return time;
}

/** An event as the API and `wfid audit --json` show it: the time in ISO 8601. */
export function eventView(event: AuditEvent) {
  return {
    time: new Date(event.time).toISOString(),
    kind: event.kind,
    engine: event.engine,
    execution_id: event.execution_id,
    workflow_id: event.workflow_id,
    audience: event.audience,
    jti: event.jti,
    kid: event.kid,
    outcome: event.outcome,
    reason: event.reason,
    id: event.id,
  };
}
export type AuditEventView = ReturnType<typeof eventView>;
