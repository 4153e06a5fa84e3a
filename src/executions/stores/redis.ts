import type { Redis as RedisClient } from 'ioredis';
import { RedisAuditStore } from '../../audit/stores/redis.js';
import { WfidError } from '../../errors.js';
import type { KeyStateRecord, KeyStateStore } from '../../keys/states.js';
import type { EndStatus, ExecutionRecord, RunState } from '../execution.js';
import { firstStatusList } from '../status-entries.js';
import type {
  ExecutionStore,
  NewRequestToken,
  StatusListStore,
  StoredRequestToken,
} from '../store.js';
import { importDriver, redactUrl, type StoreLogger, storeUnavailable } from './driver.js';
import { adoptFirstLayout, FIRST_LAYOUT_SCRIPTS } from './redis-first-layout.js';
import {
  execKey,
  executionRef,
  KEY_STATES,
  leaseKey,
  PREFIX,
  RETENTION,
  requestTokenKey,
} from './redis-keys.js';
import { type ExecutionRow, fromRow, toRow } from './rows.js';

const STATUS_LISTS = `${PREFIX}status_lists`;
const NEWEST_LIST = `${PREFIX}status_list:newest`;
const COLLECT_BATCH = 500;

/** Each script runs atomically on the server, so two replicas never interleave inside one. */
const SCRIPTS = {
  // KEYS: exec, retention. ARGV: ref, engine, id, workflow_id, metadata, status, started_at,
  // deadline, ended_at|'', score, status_list|'', status_idx|'', prefix, request token id|'',
  // its secret hash (hex). A new execution and its request token in one script call.
  wfidInsert: `
    if redis.call('EXISTS', KEYS[1]) == 1 then return {0, redis.call('HGETALL', KEYS[1])} end
    redis.call('HSET', KEYS[1], 'engine', ARGV[2], 'execution_id', ARGV[3], 'workflow_id', ARGV[4],
      'metadata', ARGV[5], 'status', ARGV[6], 'started_at', ARGV[7], 'deadline', ARGV[8])
    if ARGV[9] ~= '' then redis.call('HSET', KEYS[1], 'ended_at', ARGV[9]) end
    if ARGV[11] ~= '' then
      redis.call('HSET', KEYS[1], 'status_list', ARGV[11], 'status_idx', ARGV[12])
      redis.call('HSET', ARGV[13] .. 'sl:' .. ARGV[11], ARGV[12], KEYS[1])
    end
    redis.call('ZADD', KEYS[2], ARGV[10], ARGV[1])
    if ARGV[14] ~= '' then
      redis.call('HSET', ARGV[13] .. 'rt:' .. ARGV[14], 'engine', ARGV[2], 'execution_id', ARGV[3],
        'ref', ARGV[1], 'secret_hash', ARGV[15])
      redis.call('SADD', KEYS[1] .. ':tokens', ARGV[14])
    end
    return {1, {}}`,
  // KEYS: exec, retention. ARGV: status, ended_at, ref. Ends only a running execution.
  wfidEnd: `
    if redis.call('EXISTS', KEYS[1]) == 0 then return false end
    local status = redis.call('HGET', KEYS[1], 'status')
    if status == 'running' or status == 'waiting' then
      redis.call('HSET', KEYS[1], 'status', ARGV[1], 'ended_at', ARGV[2])
      redis.call('ZADD', KEYS[2], ARGV[2], ARGV[3])
    end
    return redis.call('HGETALL', KEYS[1])`,
  // KEYS: exec, retention. ARGV: from, to, deadline, now, ref. Pauses or resumes an execution
  // stored as `from` before its deadline; its retention score follows the new deadline.
  wfidMove: `
    if redis.call('EXISTS', KEYS[1]) == 0 then return false end
    local exec = redis.call('HMGET', KEYS[1], 'status', 'deadline')
    if exec[1] == ARGV[1] and tonumber(exec[2]) > tonumber(ARGV[4]) then
      redis.call('HSET', KEYS[1], 'status', ARGV[2], 'deadline', ARGV[3])
      redis.call('ZADD', KEYS[2], ARGV[3], ARGV[5])
    end
    return redis.call('HGETALL', KEYS[1])`,
  // KEYS: retention. ARGV: before (exclusive), batch size, prefix. Returns how many were deleted.
  wfidCollect: `
    local refs = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', '(' .. ARGV[1], 'LIMIT', 0, tonumber(ARGV[2]))
    for _, ref in ipairs(refs) do
      local exec = ARGV[3] .. 'execution:' .. ref
      local entry = redis.call('HMGET', exec, 'status_list', 'status_idx')
      if entry[1] then redis.call('HDEL', ARGV[3] .. 'sl:' .. entry[1], entry[2]) end
      for _, token in ipairs(redis.call('SMEMBERS', exec .. ':tokens')) do
        redis.call('DEL', ARGV[3] .. 'rt:' .. token)
      end
      redis.call('DEL', exec, exec .. ':tokens')
      redis.call('ZREM', KEYS[1], ref)
    end
    return #refs`,
  // KEYS: request token. ARGV: prefix. The token and its execution in one round trip.
  wfidToken: `
    local token = redis.call('HMGET', KEYS[1], 'engine', 'execution_id', 'ref', 'secret_hash')
    if not token[1] then return false end
    return {token[1], token[2], token[4], redis.call('HGETALL', ARGV[1] .. 'execution:' .. token[3])}`,
  // KEYS: lease. ARGV: holder, ttl ms. Takes a free lease (SET NX PX) or renews the holder's own.
  wfidTakeLease: `
    if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then return 1 end
    if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('PEXPIRE', KEYS[1], ARGV[2]) return 1 end
    return 0`,
  // KEYS: newest list, lists. ARGV: count, size of a new list, now, first list number. Reserves up
  // to count entries of the newest list, opening the next list when the newest is full.
  wfidReserve: `
    local newest = redis.call('HMGET', KEYS[1], 'list', 'size', 'next')
    local list, size, nextIdx = tonumber(newest[1]), tonumber(newest[2]), tonumber(newest[3])
    if list == nil or nextIdx >= size then
      list = list and list + 1 or tonumber(ARGV[4])
      size = tonumber(ARGV[2])
      nextIdx = 0
      redis.call('HSET', KEYS[2], list, size .. ':' .. ARGV[3])
    end
    local endIdx = math.min(size, nextIdx + tonumber(ARGV[1]))
    redis.call('HSET', KEYS[1], 'list', list, 'size', size, 'next', endIdx)
    return {list, nextIdx, endIdx - nextIdx}`,
  // KEYS: lists. ARGV: list, prefix. The list's "size:created_at" and [idx, deadline, …] of its
  // executions stored as running, read from the executions themselves; entries of ended or
  // collected executions are dropped on the way (a waiting one may resume, so it stays), so each
  // read touches few more than the running.
  wfidStatusList: `
    local info = redis.call('HGET', KEYS[1], ARGV[1])
    if not info then return false end
    local entries = ARGV[2] .. 'sl:' .. ARGV[1]
    local fields = redis.call('HGETALL', entries)
    local running = {}
    for i = 1, #fields, 2 do
      local exec = redis.call('HMGET', fields[i + 1], 'status', 'deadline')
      if exec[1] == 'running' then
        running[#running + 1] = fields[i]
        running[#running + 1] = exec[2]
      elseif exec[1] ~= 'waiting' then
        redis.call('HDEL', entries, fields[i])
      end
    end
    return {info, running}`,
  // KEYS: lease. ARGV: holder. Only the holder can release.
  wfidReleaseLease: `
    if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('DEL', KEYS[1]) end
    return 0`,
} as const;

type ScriptName = keyof typeof SCRIPTS | keyof typeof FIRST_LAYOUT_SCRIPTS;
type Scripted = RedisClient &
  Record<ScriptName, (...args: (string | number)[]) => Promise<unknown>>;

/** Server replies meaning "try again later"; any other reply error is a bug and propagates. */
const TRANSIENT_REPLIES =
  /^(LOADING|READONLY|MASTERDOWN|BUSY|TRYAGAIN|CLUSTERDOWN|OOM|MISCONF|NOREPLICAS)\b/;

export interface RedisStoreOptions {
  logger?: StoreLogger;
  /** Bound on connecting (default 2000 ms). */
  connectTimeoutMs?: number;
  /** Bound on one command (default 3000 ms). */
  commandTimeoutMs?: number;
  /**
   * ioredis auto-pipelining: the commands of one turn of the event loop leave in one socket
   * write. Off by default: it bought nothing measurable (bench/registration-stores.ts measures
   * it), since the commands already share round trips and fsyncs (see RedisStore).
   */
  autoPipelining?: boolean;
}

/**
 * Shared store for several replicas (`redis://…`, `rediss://…` for TLS).
 * Durability is the server's: an end of execution answered 200 survives a crash only with
 * `appendonly yes` and `appendfsync always` (Redis fsyncs the AOF before it replies).
 * open() checks both with CONFIG GET and warns, without failing, when they differ or cannot
 * be read (managed services often forbid CONFIG). Replication is asynchronous: a failover
 * may lose the last writes a primary acknowledged.
 * Concurrent writes are group-committed without help from us: one connection carries every
 * command as soon as it is issued, without waiting for earlier replies (pipelined), and Redis
 * writes and fsyncs the AOF once per turn of its event loop for all the commands it read in
 * that turn, before it replies to any of them. Each Lua script still runs atomically.
 */
export class RedisStore implements ExecutionStore {
  readonly kind = 'redis';
  readonly keyStates: KeyStateStore;
  readonly statusLists: StatusListStore;
  readonly audit: RedisAuditStore;

  private constructor(
    private readonly redis: Scripted,
    private readonly ReplyError: new (...args: never[]) => Error,
  ) {
    this.keyStates = {
      listKeyStates: () =>
        this.guard(async () =>
          (await this.redis.hvals(KEY_STATES)).map((json) => JSON.parse(json)),
        ),
      putKeyState: (record: KeyStateRecord) =>
        this.guard(
          async () => void (await this.redis.hset(KEY_STATES, record.kid, JSON.stringify(record))),
        ),
      acquireLease: (name, holder, ttlMs) =>
        this.guard(
          async () =>
            (await this.redis.wfidTakeLease(leaseKey(name), holder, Math.max(1, ttlMs))) === 1,
        ),
      releaseLease: (name, holder) =>
        this.guard(async () => void (await this.redis.wfidReleaseLease(leaseKey(name), holder))),
    };
    this.statusLists = {
      reserveStatusEntries: async (count, size, now) => {
        const [list, idx, taken] = (await this.guard(() =>
          this.redis.wfidReserve(NEWEST_LIST, STATUS_LISTS, count, size, now, firstStatusList()),
        )) as [number, number, number];
        return { list, idx, count: taken };
      },
      listStatusLists: async () => {
        const lists = await this.guard(() => this.redis.hgetall(STATUS_LISTS));
        return Object.entries(lists)
          .map(([list, info]) => ({ list: Number(list), ...parseListInfo(info) }))
          .sort((a, b) => a.list - b.list);
      },
      readStatusList: async (list) => {
        const reply = (await this.guard(() =>
          this.redis.wfidStatusList(STATUS_LISTS, list, PREFIX),
        )) as [string, string[]] | null;
        if (!reply) return undefined;
        const [info, pairs] = reply;
        const running = [];
        for (let index = 0; index + 1 < pairs.length; index += 2) {
          running.push({ idx: Number(pairs[index]), deadline: Number(pairs[index + 1]) });
        }
        return { size: parseListInfo(info).size, running };
      },
    };
    this.audit = new RedisAuditStore(redis, (command) => this.guard(command));
  }

  static async open(url: string, options: RedisStoreOptions = {}): Promise<RedisStore> {
    const ioredis = await importDriver<typeof import('ioredis')>('redis', 'ioredis');
    const logger = options.logger;
    const redis = new ioredis.Redis(url, {
      lazyConnect: true,
      connectTimeout: options.connectTimeoutMs ?? 2000,
      commandTimeout: options.commandTimeoutMs ?? 3000,
      // Fail fast while disconnected instead of queueing requests until the server returns.
      enableOfflineQueue: false,
      maxRetriesPerRequest: 1,
      // Keep reconnecting in the background forever, so the store recovers on its own.
      retryStrategy: (attempt) => Math.min(100 * attempt, 2000),
      // After a failover the old primary turns read-only: reconnect and resend.
      reconnectOnError: (err) => (err.message.startsWith('READONLY') ? 2 : false),
      enableAutoPipelining: options.autoPipelining ?? false,
    }) as Scripted;
    for (const [name, lua] of Object.entries(SCRIPTS))
      redis.defineCommand(name, { lua, numberOfKeys: keysOf(name) });
    for (const [name, { lua, numberOfKeys }] of Object.entries(FIRST_LAYOUT_SCRIPTS))
      redis.defineCommand(name, { lua, numberOfKeys });
    let healthy = true;
    // ioredis emits an error per failed reconnect; log the loss once per outage.
    redis.on('error', (err: Error) => {
      if (healthy) logger?.warn({ err: err.message }, 'redis store: connection lost, reconnecting');
      healthy = false;
    });
    redis.on('ready', () => {
      healthy = true;
    });
    try {
      await redis.connect();
    } catch (err) {
      redis.disconnect();
      throw new WfidError('ERR_STORE_UNAVAILABLE', `cannot open redis store ${redactUrl(url)}`, {
        cause: err,
      });
    }
    await checkDurability(redis, logger);
    const store = new RedisStore(redis, ioredis.ReplyError);
    try {
      await store.guard(() => adoptFirstLayout(redis, logger));
    } catch (err) {
      redis.disconnect();
      throw err;
    }
    return store;
  }

  async insertExecution(record: ExecutionRecord, requestToken?: NewRequestToken) {
    const row = toRow(record);
    const ref = executionRef(record.engine, record.executionId);
    const [inserted, existing] = (await this.guard(() =>
      this.redis.wfidInsert(
        execKey(ref),
        RETENTION,
        ref,
        row.engine,
        row.execution_id,
        row.workflow_id,
        row.metadata,
        row.status,
        row.started_at,
        row.deadline,
        row.ended_at ?? '',
        record.endedAt ?? record.deadline,
        row.status_list ?? '',
        row.status_idx ?? '',
        PREFIX,
        requestToken?.tokenId ?? '',
        requestToken?.secretHash.toString('hex') ?? '',
      ),
    )) as [number, string[]];
    return inserted === 1
      ? { inserted: true, record }
      : { inserted: false, record: fromHash(existing) };
  }

  async getExecution(engine: string, executionId: string) {
    const ref = executionRef(engine, executionId);
    const hash = await this.guard(() => this.redis.hgetall(execKey(ref)));
    return hash.execution_id === undefined ? undefined : fromRow(rowOf(hash));
  }

  async endExecution(engine: string, executionId: string, status: EndStatus, endedAt: number) {
    const ref = executionRef(engine, executionId);
    const fields = (await this.guard(() =>
      this.redis.wfidEnd(execKey(ref), RETENTION, status, endedAt, ref),
    )) as string[] | null;
    return fields ? fromHash(fields) : undefined;
  }

  async moveExecution(
    engine: string,
    executionId: string,
    from: RunState,
    to: RunState,
    deadline: number,
    now: number,
  ) {
    const ref = executionRef(engine, executionId);
    const fields = (await this.guard(() =>
      this.redis.wfidMove(execKey(ref), RETENTION, from, to, deadline, now, ref),
    )) as string[] | null;
    return fields ? fromHash(fields) : undefined;
  }

  async addRequestToken(tokenId: string, token: StoredRequestToken) {
    const ref = executionRef(token.engine, token.executionId);
    await this.guard(async () => {
      const results = await this.redis
        .multi()
        .hset(
          requestTokenKey(tokenId),
          'engine',
          token.engine,
          'execution_id',
          token.executionId,
          'ref',
          ref,
          'secret_hash',
          token.secretHash.toString('hex'),
        )
        .sadd(`${execKey(ref)}:tokens`, tokenId)
        .exec();
      const failed = results?.find(([err]) => err)?.[0];
      if (failed) throw failed;
    });
  }

  async getRequestToken(tokenId: string) {
    const reply = (await this.guard(() =>
      this.redis.wfidToken(requestTokenKey(tokenId), PREFIX),
    )) as [string, string, string, string[]] | null;
    if (!reply) return undefined;
    const [engine, executionId, secretHash, execution] = reply;
    return {
      engine,
      executionId,
      secretHash: Buffer.from(secretHash, 'hex'),
      execution: execution.length > 0 ? fromHash(execution) : undefined,
    };
  }

  async collectExecutions(before: number) {
    let total = 0;
    for (;;) {
      // Batches keep each script short: Redis runs nothing else while a script runs.
      const deleted = (await this.guard(() =>
        this.redis.wfidCollect(RETENTION, before, COLLECT_BATCH, PREFIX),
      )) as number;
      total += deleted;
      if (deleted < COLLECT_BATCH) return total;
    }
  }

  async ping() {
    await this.guard(() => this.redis.ping());
  }

  async close() {
    await this.redis.quit().catch(() => this.redis.disconnect());
  }

  /** Connection loss, timeouts, a loading or read-only server: 503 with Retry-After. */
  async guard<T>(command: () => Promise<T>): Promise<T> {
    try {
      return await command();
    } catch (err) {
      if (err instanceof this.ReplyError && !TRANSIENT_REPLIES.test(err.message)) throw err;
      throw storeUnavailable('redis', err);
    }
  }
}

async function checkDurability(redis: RedisClient, logger: StoreLogger | undefined): Promise<void> {
  let settings: Record<string, string>;
  try {
    const [appendonly, appendfsync] = await Promise.all(
      ['appendonly', 'appendfsync'].map(
        async (name) => ((await redis.config('GET', name)) as string[])[1] ?? '?',
      ),
    );
    settings = { appendonly: appendonly!, appendfsync: appendfsync! };
  } catch (err) {
    logger?.warn(
      { err: (err as Error).message },
      'redis store: cannot read appendonly/appendfsync (CONFIG not allowed?); make sure the server runs with appendonly yes and appendfsync always, or an end of execution answered 200 may be lost in a crash',
    );
    return;
  }
  if (settings.appendonly !== 'yes' || settings.appendfsync !== 'always') {
    logger?.warn(
      settings,
      'redis store: the server needs appendonly yes and appendfsync always, or an end of execution answered 200 may be lost in a crash',
    );
  }
}

function keysOf(script: string): number {
  return ['wfidInsert', 'wfidEnd', 'wfidMove', 'wfidReserve'].includes(script) ? 2 : 1;
}

function parseListInfo(info: string): { size: number; createdAt: number } {
  const [size, createdAt] = info.split(':');
  return { size: Number(size), createdAt: Number(createdAt) };
}

/** A flat [field, value, …] reply (HGETALL inside a script) as a record. */
function fromHash(fields: string[]): ExecutionRecord {
  const hash: Record<string, string> = {};
  for (let index = 0; index + 1 < fields.length; index += 2)
    hash[fields[index]!] = fields[index + 1]!;
  return fromRow(rowOf(hash));
}

function rowOf(hash: Record<string, string>): ExecutionRow {
  return {
    engine: hash.engine!,
    execution_id: hash.execution_id!,
    workflow_id: hash.workflow_id!,
    metadata: hash.metadata!,
    status: hash.status as ExecutionRow['status'],
    started_at: hash.started_at!,
    deadline: hash.deadline!,
    ended_at: hash.ended_at ?? null,
    status_list: hash.status_list ?? null,
    status_idx: hash.status_idx ?? null,
  };
}
