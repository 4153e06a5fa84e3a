import { WfidError } from '../../errors.js';
import { importOptional } from '../../optional-package.js';

/** The part of a pino logger the stores use (warnings about durability settings, lost connections). */
export interface StoreLogger {
  warn(fields: object, message: string): void;
}

/** Seconds a client should wait before retrying while the shared store is unreachable. */
export const STORE_RETRY_AFTER_S = 1;

/** Loads a store's driver on demand, so users of SQLite never load `pg` or `ioredis`. */
export function importDriver<T>(store: string, pkg: string): Promise<T> {
  return importOptional<T>(pkg, `the ${store} store`);
}

export function storeUnavailable(store: string, cause: unknown): WfidError {
  const reason = cause instanceof Error ? cause.message : String(cause);
  return new WfidError('ERR_STORE_UNAVAILABLE', `${store} store unavailable: ${reason}`, {
    cause,
    retryAfter: STORE_RETRY_AFTER_S,
  });
}

/** The URL without its password, for logs and error messages. */
export function redactUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '***';
    return parsed.toString();
  } catch {
    return '<unparsable store URL>';
  }
}
