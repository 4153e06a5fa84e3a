import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MemoryStore } from '../../src/executions/stores/memory.js';
import { SqliteStore } from '../../src/executions/stores/sqlite.js';
import { describeStoreSuite } from './store-suite.js';

describeStoreSuite('memory', async () => ({ store: new MemoryStore() }));

describeStoreSuite('sqlite', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'wfid-sqlite-'));
  return { store: new SqliteStore(join(dir, 'wfid.db')), cleanup: () => rm(dir, { recursive: true, force: true }) };
});
