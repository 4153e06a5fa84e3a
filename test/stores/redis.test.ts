import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_ENGINE } from '../../src/executions/engine.js';
import { openStore } from '../../src/executions/stores/open.js';
import { RedisStore } from '../../src/executions/stores/redis.js';
import { type RedisPeer, startRedis } from '../peers/redis.js';
import { describeAuditSuite } from './audit-suite.js';
import { describeConcurrentWrites } from './concurrent-writes-suite.js';
import { describeStoreFaults } from './fault-suite.js';
import { describeStoreSuite } from './store-suite.js';

let server: RedisPeer;
beforeAll(async () => {
  server = await startRedis();
});
afterAll(async () => {
  await server?.close();
});

/** Collects warnings the store logs. */
function recordingLogger() {
  const warnings: { fields: object; message: string }[] = [];
  return {
    warnings,
    warn: (fields: object, message: string) => void warnings.push({ fields, message }),
  };
}

describe('redis store durability check', () => {
  it('opens quietly on a server with appendonly yes and appendfsync always', async () => {
    const logger = recordingLogger();
    const store = await openStore(server.url, { logger });
    expect(store.kind).toBe('redis');
    await store.close();
    expect(logger.warnings).toEqual([]);
  });

  it('warns, without failing, when the server fsyncs the AOF only every second', async () => {
    const lax = await startRedis({ args: ['--appendfsync', 'everysec'] });
    try {
      const logger = recordingLogger();
      const store = await RedisStore.open(lax.url, { logger });
      await store.ping();
      await store.close();
      expect(logger.warnings).toHaveLength(1);
      expect(logger.warnings[0]!.fields).toEqual({ appendonly: 'yes', appendfsync: 'everysec' });
    } finally {
      await lax.close();
    }
  });

  it('refuses to open an unreachable server with ERR_STORE_UNAVAILABLE', async () => {
    await expect(RedisStore.open('redis://127.0.0.1:1')).rejects.toMatchObject({
      code: 'ERR_STORE_UNAVAILABLE',
    });
  });
});

describe('redis key layout', () => {
  it('moves executions and request tokens of the first layout into the default engine, once', async () => {
    // Database 5 as the first release left it: wfid:exec:<id> keys, raw ids (one holding ':').
    const url = `${server.url}/5`;
    const raw = new Redis(url);
    try {
      const deadline = Date.now() + 3_600_000;
      const secretHash = randomBytes(32);
      for (const id of ['a', 'a:tokens']) {
        await raw.hset(`wfid:exec:${id}`, {
          execution_id: id,
          workflow_id: `wf-${id}`,
          metadata: '{"claims":{}}',
          status: 'running',
          started_at: '1000',
          deadline: String(deadline),
        });
        await raw.zadd('wfid:retention', deadline, id);
      }
      // Execution 'a' holds a status list entry (list 0, idx 5) served from wfid:sl:0.
      await raw.hset('wfid:exec:a', { status_list: '0', status_idx: '5' });
      await raw.hset('wfid:status_lists', '0', '1024:1000');
      await raw.hset('wfid:sl:0', '5', 'wfid:exec:a');
      await raw.hset('wfid:rt:t-old', {
        execution_id: 'a:tokens',
        secret_hash: secretHash.toString('hex'),
      });
      await raw.sadd('wfid:exec:a:tokens:tokens', 't-old');

      const logger = recordingLogger();
      const store = await RedisStore.open(url, { logger });
      expect(await store.getExecution(DEFAULT_ENGINE, 'a')).toMatchObject({ workflowId: 'wf-a' });
      const moved = await store.getExecution(DEFAULT_ENGINE, 'a:tokens');
      expect(moved).toMatchObject({ engine: 'default', workflowId: 'wf-a:tokens', deadline });
      const token = await store.getRequestToken('t-old');
      expect(token).toMatchObject({ engine: 'default', executionId: 'a:tokens' });
      expect(token?.execution).toEqual(moved);
      expect(Buffer.from(token!.secretHash).equals(secretHash)).toBe(true);
      expect(logger.warnings.map((w) => w.fields)).toContainEqual({ executions: 2 });
      // The status list entry follows the moved execution: still running in list 0.
      expect((await store.statusLists.readStatusList(0))?.running).toEqual([{ idx: 5, deadline }]);
      // The old keys are gone; collection finds the moved executions through the new index.
      expect(await raw.keys('wfid:exec:*')).toEqual([]);
      expect(await raw.exists('wfid:retention')).toBe(0);
      expect(await store.collectExecutions(deadline + 1)).toBe(2);
      expect(await store.getRequestToken('t-old')).toBeUndefined();
      await store.close();
      // A second start moves nothing.
      const again = recordingLogger();
      await (await RedisStore.open(url, { logger: again })).close();
      expect(again.warnings).toEqual([]);
    } finally {
      await raw.flushdb();
      raw.disconnect();
    }
  });
});

describeStoreSuite('redis', async () => ({ store: await RedisStore.open(server.url) }));
describeConcurrentWrites('redis', async () => ({ store: await RedisStore.open(server.url) }));
describeAuditSuite('redis', async () => ({ store: await RedisStore.open(server.url) }));

describeStoreFaults(
  'redis',
  () => RedisStore.open(server.url),
  () => ({
    crash: () => server.stop('kill'),
    restart: () => server.restart(),
    pause: () => server.pause(),
    resume: () => server.resume(),
  }),
);
