import type { Redis as RedisClient } from 'ioredis';
import { DEFAULT_ENGINE } from '../engine.js';
import type { StoreLogger } from './driver.js';
import { execKey, executionRef, PREFIX, RETENTION, SCHEMA, SCHEMA_VERSION } from './redis-keys.js';

/**
 * Moving data of the first key layout (`wfid:exec:<id>`, raw ids, before engines had
 * namespaces) into the current one (redis-keys.ts). Each script never overwrites what is
 * already in the new layout, so replicas that start at once may all run the move.
 */
export const FIRST_LAYOUT_SCRIPTS = {
  // KEYS: old hash, new hash, retention. ARGV: engine, ref, prefix. A status list entry
  // (wfid:sl:<list>) is pointed at the moved execution.
  wfidAdoptExecution: {
    numberOfKeys: 3,
    lua: `
    if redis.call('TYPE', KEYS[1]).ok ~= 'hash' or redis.call('EXISTS', KEYS[2]) == 1 then return 0 end
    local fields = redis.call('HGETALL', KEYS[1])
    redis.call('HSET', KEYS[2], unpack(fields))
    redis.call('HSET', KEYS[2], 'engine', ARGV[1])
    local row = redis.call('HMGET', KEYS[2], 'ended_at', 'deadline', 'status_list', 'status_idx')
    redis.call('ZADD', KEYS[3], row[1] or row[2], ARGV[2])
    if row[3] then redis.call('HSET', ARGV[3] .. 'sl:' .. row[3], row[4], KEYS[2]) end
    return 1`,
  },
  // KEYS: request token, new token set. ARGV: engine, execution id, ref, token id.
  wfidAdoptToken: {
    numberOfKeys: 2,
    lua: `
    if redis.call('HEXISTS', KEYS[1], 'ref') == 1 then return 0 end
    if redis.call('HGET', KEYS[1], 'execution_id') ~= ARGV[2] then return 0 end
    redis.call('HSET', KEYS[1], 'engine', ARGV[1], 'ref', ARGV[3])
    redis.call('SADD', KEYS[2], ARGV[4])
    return 1`,
  },
} as const;

type Adopting = RedisClient &
  Record<keyof typeof FIRST_LAYOUT_SCRIPTS, (...args: string[]) => Promise<unknown>>;

/**
 * Moves the executions and request tokens of the first layout (`wfid:exec:<id>`, written before
 * engines had namespaces) into the default engine's namespace, then deletes the old keys and
 * records the schema. Each move is one script that never overwrites a moved execution, so
 * replicas that start at once may all run this; the previous release reads only the old layout,
 * so replicas move to this release together (docs/deployment.md).
 */
export async function adoptFirstLayout(
  redis: Adopting,
  logger: StoreLogger | undefined,
): Promise<void> {
  if ((await redis.get(SCHEMA)) === SCHEMA_VERSION) return;
  const scan = async (match: string, each: (key: string) => Promise<void>) => {
    for await (const keys of redis.scanStream({ match, count: 500 }))
      for (const key of keys as string[]) await each(key);
  };
  let executions = 0;
  await scan(`${PREFIX}exec:*`, async (key) => {
    if ((await redis.type(key)) !== 'hash') return; // a token set: rebuilt from the tokens below
    const id = await redis.hget(key, 'execution_id');
    if (id === null) return;
    const ref = executionRef(DEFAULT_ENGINE, id);
    executions += Number(
      await redis.wfidAdoptExecution(key, execKey(ref), RETENTION, DEFAULT_ENGINE, ref, PREFIX),
    );
  });
  await scan(`${PREFIX}rt:*`, async (key) => {
    const id = await redis.hget(key, 'execution_id');
    if (id === null) return;
    const ref = executionRef(DEFAULT_ENGINE, id);
    const tokenId = key.slice(`${PREFIX}rt:`.length);
    await redis.wfidAdoptToken(key, `${execKey(ref)}:tokens`, DEFAULT_ENGINE, id, ref, tokenId);
  });
  await scan(`${PREFIX}exec:*`, async (key) => void (await redis.del(key)));
  await redis.del(`${PREFIX}retention`);
  await redis.set(SCHEMA, SCHEMA_VERSION);
  if (executions > 0)
    logger?.warn({ executions }, 'redis store: moved executions into the default engine namespace');
}
