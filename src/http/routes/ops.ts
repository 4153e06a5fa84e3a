import type { FastifyInstance } from 'fastify';
import { describeError } from '../../errors.js';
import type { ServerDeps } from '../deps.js';

/** Liveness, readiness and Prometheus metrics. */
export function opsRoutes(app: FastifyInstance, deps: ServerDeps): void {
  const { ring, registry, metrics, logger } = deps;

  app.get('/healthz', async () => ({ status: 'ok' }));

  app.get('/readyz', async (_request, reply) => {
    const keys = ring.health();
    let store: { ready: boolean; reason?: string } = { ready: true };
    try {
      await registry.store.ping();
    } catch (err) {
      logger.warn({ err: describeError(err) }, 'store ping failed');
      store = { ready: false, reason: 'store unreachable' };
    }
    const ready = keys.ready && store.ready;
    reply.code(ready ? 200 : 503).header('cache-control', 'no-store');
    return { status: ready ? 'ready' : 'not_ready', keys, store };
  });

  app.get('/metrics', async (_request, reply) => {
    reply.type(metrics.registry.contentType);
    return metrics.registry.metrics();
  });
}
