import { WfidError } from '../../errors.js';
import type { ExecutionStore } from '../store.js';

/**
 * Opens the store named by `store` in config: `sqlite:<path>`, `memory:`. Drivers load on demand.
 */
export async function openStore(url: string): Promise<ExecutionStore> {
  if (url.startsWith('sqlite:')) {
    const { SqliteStore } = await import('./sqlite.js');
    return new SqliteStore(url.slice('sqlite:'.length) || './data/wfid.db');
  }
  if (url === 'memory:') {
    const { MemoryStore } = await import('./memory.js');
    return new MemoryStore();
  }
  throw new WfidError('ERR_CONFIG', 'store: expected sqlite:<path>, memory:, postgres://… or redis://…');
}
