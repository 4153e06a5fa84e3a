import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_ENGINE } from '../../src/executions/engine.js';
import { openStore } from '../../src/executions/stores/open.js';
import { MIGRATIONS, PostgresStore } from '../../src/executions/stores/postgres.js';
import { type PostgresPeer, startPostgres } from '../peers/postgres.js';
import { describeAuditSuite } from './audit-suite.js';
import { describeConcurrentWrites } from './concurrent-writes-suite.js';
import { describeStoreFaults } from './fault-suite.js';
import { describeStoreSuite, execution } from './store-suite.js';

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
      expect(rows.map((row) => row.version)).toEqual(MIGRATIONS.map((_, index) => index + 1));
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

  it('keeps executions and request tokens stored before engines, in the default engine', async () => {
    // A database as the first release left it: migration 1 only, one execution, one token.
    const admin = new pg.Client(server.url);
    await admin.connect();
    const url = server.url.replace(/\/wfid$/, '/wfid_release1');
    try {
      await admin.query('CREATE DATABASE wfid_release1');
      const old = new pg.Client(url);
      await old.connect();
      await old.query(
        'CREATE TABLE wfid_migrations (version integer PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())',
      );
      await old.query(MIGRATIONS[0]!);
      await old.query('INSERT INTO wfid_migrations (version) VALUES (1)');
      await old.query(
        `INSERT INTO wfid_executions (execution_id, workflow_id, metadata, status, started_at, deadline, ended_at)
         VALUES ('a:tokens', 'wf-old', '{"claims":{}}', 'running', 1000, $1, NULL)`,
        [Date.now() + 3_600_000],
      );
      const secretHash = randomBytes(32);
      await old.query(
        'INSERT INTO wfid_request_tokens (token_id, execution_id, secret_hash) VALUES ($1, $2, $3)',
        ['t-old', 'a:tokens', secretHash],
      );
      await old.end();

      const store = await PostgresStore.open(url);
      const record = await store.getExecution(DEFAULT_ENGINE, 'a:tokens');
      expect(record).toMatchObject({ engine: 'default', workflowId: 'wf-old', status: 'running' });
      const token = await store.getRequestToken('t-old');
      expect(token).toMatchObject({ engine: 'default', executionId: 'a:tokens' });
      expect(token?.execution).toEqual(record);
      expect(Buffer.from(token!.secretHash).equals(secretHash)).toBe(true);
      const other = execution({ engine: 'n8n-dev', executionId: 'a:tokens' });
      expect((await store.insertExecution(other)).inserted).toBe(true);
      expect((await store.insertExecution(other)).inserted).toBe(false);
      await store.close();
    } finally {
      await admin.end();
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
describeConcurrentWrites('postgres', async () => ({ store: await PostgresStore.open(server.url) }));

describe('postgres group commit', () => {
  it('fails only the write the database refuses; the rest of its group commits', async () => {
    const store = await PostgresStore.open(server.url);
    try {
      const good = Array.from({ length: 5 }, () => execution());
      // jsonb refuses \u0000 (22P05): this insert fails the group's statement as a whole.
      const bad = execution({ workflowName: 'nul \u0000 byte' });
      const toEnd = execution();
      await store.insertExecution(toEnd);
      // Issued in one turn, so they are one group.
      const settled = await Promise.allSettled([
        ...good.map((record) =>
          store.insertExecution(record, {
            tokenId: `t-${record.executionId}`,
            secretHash: randomBytes(32),
          }),
        ),
        store.insertExecution(bad),
        store.endExecution(toEnd.engine, toEnd.executionId, 'canceled', 1234),
      ]);
      expect(settled.slice(0, 5)).toEqual(
        good.map((record) => ({ status: 'fulfilled', value: { inserted: true, record } })),
      );
      expect(settled[5]).toMatchObject({ status: 'rejected', reason: { code: '22P05' } });
      expect(settled[6]).toMatchObject({
        status: 'fulfilled',
        value: { status: 'canceled', endedAt: 1234 },
      });
      for (const record of good) {
        expect(await store.getExecution(record.engine, record.executionId)).toEqual(record);
        expect((await store.getRequestToken(`t-${record.executionId}`))?.execution).toEqual(record);
      }
      expect(await store.getExecution(bad.engine, bad.executionId)).toBeUndefined();
      expect(await store.getExecution(toEnd.engine, toEnd.executionId)).toMatchObject({
        status: 'canceled',
        endedAt: 1234,
      });
    } finally {
      await store.close();
    }
  });
});

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
