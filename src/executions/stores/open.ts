import { WfidError } from '../../errors.js';
import type { ExecutionStore } from '../store.js';
import type { StoreLogger } from './driver.js';

export interface OpenStoreOptions {
  /** Receives warnings (durability settings, lost connections). */
  logger?: StoreLogger;
}

/**
 * Opens the store named by `store` in config: `sqlite:<path>` (default), `memory:`,
 * `postgres://…` / `postgresql://…`, `redis://…` / `rediss://…` (TLS). Drivers load on demand,
 * so a SQLite install never loads `pg` or `ioredis`.
 *
 * @example
 *   const store = await openStore('postgres://wfid@db:5432/wfid', { logger });
 */
export async function openStore(
  url: string,
  options: OpenStoreOptions = {},
): Promise<ExecutionStore> {
  if (url.startsWith('sqlite:')) {
    const { SqliteStore } = await import('./sqlite.js');
    return new SqliteStore(url.slice('sqlite:'.length) || './data/wfid.db', options);
  }
  if (url === 'memory:') {
    const { MemoryStore } = await import('./memory.js');
    return new MemoryStore();
  }
  if (url.startsWith('postgres://') || url.startsWith('postgresql://')) {
    const { PostgresStore } = await import('./postgres.js');
    return PostgresStore.open(url, options);
  }
  if (url.startsWith('redis://') || url.startsWith('rediss://')) {
    const { RedisStore } = await import('./redis.js');
    return RedisStore.open(url, options);
  }
  throw new WfidError(
    'ERR_CONFIG',
    'store: expected sqlite:<path>, memory:, postgres://…, postgresql://…, redis://… or rediss://…',
  );
}
