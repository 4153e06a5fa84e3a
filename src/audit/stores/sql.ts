import {
  AUDIT_COLUMNS,
  type AuditEvent,
  type AuditQuery,
  FILTER_FIELDS,
  idBounds,
} from '../event.js';

/**
 * The SELECT of a query, for SQLite (`?`) and PostgreSQL (`$n`). The time window is a range of
 * the primary key (ids start with the time), so only the filter columns need their own indexes.
 */
export function listSql(
  table: string,
  query: AuditQuery,
  placeholder: (index: number) => string,
): { text: string; values: unknown[] } {
  const where: string[] = [];
  const values: unknown[] = [];
  const bind = (value: unknown) => {
    values.push(value);
    return placeholder(values.length);
  };
  for (const field of FILTER_FIELDS) {
    const wanted = query.filter[field];
    if (wanted !== undefined) where.push(`${field} = ${bind(wanted)}`);
  }
  const { low, high, afterId } = idBounds(query);
  if (low !== undefined) where.push(`id >= ${bind(low)}`);
  if (high !== undefined) where.push(`id < ${bind(high)}`);
  if (afterId !== undefined) where.push(`id ${query.order === 'asc' ? '>' : '<'} ${bind(afterId)}`);
  const text = `SELECT ${AUDIT_COLUMNS.join(', ')} FROM ${table}${
    where.length ? ` WHERE ${where.join(' AND ')}` : ''
  } ORDER BY id ${query.order === 'asc' ? 'ASC' : 'DESC'} LIMIT ${bind(query.limit + 1)}`;
  return { text, values };
}

/** Rows as events: PostgreSQL returns bigint as text. */
export function eventOf(row: Record<string, unknown>): AuditEvent {
  return { ...(row as unknown as AuditEvent), time: Number(row.time) };
}
