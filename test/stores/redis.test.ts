import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openStore } from '../../src/executions/stores/open.js';
import { RedisStore } from '../../src/executions/stores/redis.js';
import { type RedisPeer, startRedis } from '../peers/redis.js';
import { describeAuditSuite } from './audit-suite.js';
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

describeStoreSuite('redis', async () => ({ store: await RedisStore.open(server.url) }));
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
