import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openStore } from '../../src/executions/stores/open.js';
import { PostgresStore } from '../../src/executions/stores/postgres.js';
import { type PostgresPeer, startPostgres } from '../peers/postgres.js';
import { describeAuditSuite } from './audit-suite.js';
import { describeStoreFaults } from './fault-suite.js';
import { describeStoreSuite } from './store-suite.js';

let server: PostgresPeer;
beforeAll(async () => {
  server = await startPostgres();
});
afterAll(async () => {
  await server?.close();
});

describe('postgres store migrations', () => {
  it('migrates once when several replicas start at once, under the advisory lock', async () => {
    const replicas = await Promise.all(
      Array.from({ length: 4 }, () => PostgresStore.open(server.url)),
    );
    await Promise.all(replicas.map((store) => store.close()));
    const client = new pg.Client(server.url);
    await client.connect();
    try {
      const { rows } = await client.query('SELECT version FROM wfid_migrations ORDER BY version');
      expect(rows.map((row) => row.version)).toEqual([1, 2, 3, 4]);
      const tables = await client.query(
        "SELECT tablename FROM pg_tables WHERE tablename LIKE 'wfid_%' ORDER BY 1",
      );
      expect(tables.rows.map((row) => row.tablename)).toEqual([
        'wfid_audit_events',
        'wfid_executions',
        'wfid_key_states',
        'wfid_leases',
        'wfid_migrations',
        'wfid_request_tokens',
        'wfid_status_list_first',
        'wfid_status_lists',
      ]);
      // One first list number, drawn once, for every replica.
      const first = await client.query('SELECT list_id FROM wfid_status_list_first');
      expect(first.rows).toHaveLength(1);
    } finally {
      await client.end();
    }
  });

  it('opens through openStore for both URL schemes', async () => {
    for (const url of [server.url, server.url.replace('postgres://', 'postgresql://')]) {
      const store = await openStore(url);
      expect(store.kind).toBe('postgres');
      await store.close();
    }
  });

  it('refuses to open an unreachable server with ERR_STORE_UNAVAILABLE', async () => {
    await expect(PostgresStore.open('postgres://postgres@127.0.0.1:1/wfid')).rejects.toMatchObject({
      code: 'ERR_STORE_UNAVAILABLE',
    });
  });
});

describeStoreSuite('postgres', async () => ({ store: await PostgresStore.open(server.url) }));
describeAuditSuite('postgres', async () => ({ store: await PostgresStore.open(server.url) }));

describeStoreFaults(
  'postgres',
  () => PostgresStore.open(server.url),
  () => ({
    crash: () => server.stop('immediate'),
    restart: () => server.restart(),
    pause: () => server.pause(),
    resume: () => server.resume(),
  }),
);
