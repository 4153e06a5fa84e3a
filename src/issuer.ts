import { randomBytes } from 'node:crypto';
import { mkdir } from 'node:fs/promises';
import { hostname } from 'node:os';
import type { FastifyInstance } from 'fastify';
import pino, { type Logger } from 'pino';
import { auditedKeyStates } from './audit/key-states.js';
import { AuditTrail } from './audit/trail.js';
import type { Config } from './config/schema.js';
import { keyTimes, tokenAfterlifeMs } from './config/times.js';
import { describeError } from './errors.js';
import { ExecutionRegistry } from './executions/registry.js';
import { STATUS_BLOCK_MAX_AGE_MS } from './executions/status-entries.js';
import type { ExecutionStore } from './executions/store.js';
import { openStore } from './executions/stores/open.js';
import type { ServerDeps } from './http/deps.js';
import { resolveEngineCredentials } from './http/engine-tokens.js';
import { buildServer } from './http/server.js';
import { KeyLifecycle } from './keys/lifecycle.js';
import { openBackend } from './keys/open.js';
import type { KeyCreation } from './keys/plan.js';
import { KeyRing } from './keys/ring.js';
import { Metrics } from './metrics.js';
import { TokenMinter } from './tokens/mint.js';
import { StatusListIssuer, statusListRetirementMs } from './tokens/status-list.js';

/** How often every replica re-reads key states from the store. */
const KEY_STATE_POLL_MS = 2000;

export interface Issuer {
  config: Config;
  ring: KeyRing;
  store: ExecutionStore;
  registry: ExecutionRegistry;
  minter: TokenMinter;
  statusLists: StatusListIssuer;
  metrics: Metrics;
  audit: AuditTrail;
  logger: Logger;
  app: FastifyInstance;
  /** Listens on config host/port and starts the background timers; resolves to the bound URL. */
  listen(): Promise<string>;
  close(): Promise<void>;
}

export interface IssuerOptions {
  logger?: Logger;
}

/**
 * Assembles an issuer from its config: key backend → key ring, store → execution registry,
 * token minter, and the HTTP server. Nothing listens until `listen()`.
 */
export async function createIssuer(config: Config, options: IssuerOptions = {}): Promise<Issuer> {
  const logger =
    options.logger ??
    pino({ level: config.log_level, redact: ['req.headers.authorization', '*.token', '*.pin'] });
  await mkdir(config.data_dir, { recursive: true, mode: 0o700 });
  const metrics = new Metrics({ processMetrics: true });
  const store = await openStore(config.store, { logger: logger.child({ component: 'store' }) });
  const backend = await openBackend(config, logger);
  const audit = auditTrail(config, store, logger, metrics);
  const ring = new KeyRing(backend, { logger, metrics });
  const lifecycle = keyLifecycle(config, store, ring, logger, { audit });
  await lifecycle.start().catch(async (err: unknown) => {
    await ring.close();
    await audit.close();
    await store.close();
    throw err;
  });
  const statusLists = new StatusListIssuer({
    ring,
    store: store.statusLists,
    issuer: config.issuer,
    ttlMs: config.status_list.ttl,
    lifetimeMs: config.status_list.lifetime,
    retireAfterMs: statusListRetirementMs({
      blockAgeMs: STATUS_BLOCK_MAX_AGE_MS,
      maxDurationMs: config.executions.max_duration,
      maxTokenLifetimeMs: config.tokens.max_lifetime,
      clockSkewMs: config.rotation.clock_skew,
    }),
    settleAfterMs: STATUS_BLOCK_MAX_AGE_MS + config.rotation.clock_skew,
  });
  const minter = new TokenMinter({
    ring,
    issuer: config.issuer,
    subjectTemplate: config.tokens.subject,
    extraClaims: config.tokens.extra_claims,
    lifetimeMs: config.tokens.lifetime,
    maxLifetimeMs: config.tokens.max_lifetime,
    allowedAudiences: config.tokens.audiences,
    statusListUri: (list) => statusLists.uri(list),
  });
  const registry = new ExecutionRegistry(store, {
    maxDurationMs: config.executions.max_duration,
    maxWaitMs: config.executions.max_wait,
    retentionMs: tokenAfterlifeMs(config),
    statusListSize: config.status_list.size,
    checkIdentity: (record) => minter.checkIdentity(record),
  });
  const deps: ServerDeps = {
    config,
    ring,
    registry,
    minter,
    statusLists,
    metrics,
    logger,
    engineCredentials: await resolveEngineCredentials(config, logger),
    audit,
    adminToken: config.admin_token,
  };
  const app = await buildServer(deps);
  const timers: NodeJS.Timeout[] = [];

  const every = (ms: number, task: () => Promise<unknown>, what: string) => {
    const timer = setInterval(() => {
      task().catch((err) => logger.warn({ err: describeError(err) }, `${what} failed`));
    }, ms);
    timer.unref();
    timers.push(timer);
  };

  return {
    config,
    ring,
    store,
    registry,
    minter,
    statusLists,
    metrics,
    audit,
    logger,
    app,
    async listen() {
      const url = await app.listen({ host: config.host, port: config.port });
      audit.start();
      every(config.keys.refresh, () => lifecycle.tick(), 'key refresh and rotation');
      // Key states (an emergency retire, another replica's step) are re-read more often than
      // the backend is listed: a store read costs little, a KMS listing does not.
      every(
        Math.min(config.keys.refresh, KEY_STATE_POLL_MS),
        () => lifecycle.follow(),
        'following key states',
      );
      every(
        config.executions.collect_every,
        () => registry.collect(),
        'collecting ended executions',
      );
      every(
        config.executions.collect_every,
        () => audit.store.pruneEvents(Date.now() - config.audit.retention),
        'pruning audit events',
      );
      logger.info(
        { url, issuer: config.issuer, backend: backend.kind, store: store.kind },
        'issuer listening',
      );
      return url;
    },
    async close() {
      for (const timer of timers) clearInterval(timer);
      await app.close();
      await lifecycle.release();
      await ring.close();
      await audit.close();
      await store.close();
    },
  };
}

/** The audit trail writer over the store's audit table. */
export function auditTrail(
  config: Config,
  store: ExecutionStore,
  logger: Logger,
  metrics?: Metrics,
): AuditTrail {
  return new AuditTrail({
    store: store.audit,
    logger,
    metrics,
    enabled: config.audit.enabled,
    flushMs: config.audit.flush_interval,
    batchSize: config.audit.batch_size,
    queueSize: config.audit.queue_size,
  });
}

/**
 * The key lifecycle over the store's key states, this replica taking part in the rotation
 * lease. The CLI passes `create: 'never'`: inspecting or managing keys never makes one by
 * surprise (`wfid keys rotate` asks for one explicitly).
 */
export function keyLifecycle(
  config: Config,
  store: ExecutionStore,
  ring: KeyRing,
  logger: Logger,
  options: { audit?: AuditTrail; create?: KeyCreation } = {},
): KeyLifecycle {
  const { audit } = options;
  return new KeyLifecycle({
    ring,
    store: audit ? auditedKeyStates(store.keyStates, audit) : store.keyStates,
    times: keyTimes(config),
    everyMs: config.rotation.every,
    create: options.create ?? config.keys.create,
    disableRetired: config.rotation.disable_retired,
    holder: `${hostname()}:${process.pid}:${randomBytes(4).toString('hex')}`,
    leaseMs: 3 * config.keys.refresh,
    logger,
  });
}
