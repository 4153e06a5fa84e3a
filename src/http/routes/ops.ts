import type { FastifyInstance } from 'fastify';
import { describeError } from '../../errors.js';
import type { ServerDeps } from '../deps.js';

/** Liveness, readiness and Prometheus metrics. */
export function opsRoutes(app: FastifyInstance, deps: ServerDeps): void {
  const { ring, registry, metrics, logger } = deps;
  // Why a component is not ready goes to the log, once per change, never into the answer: the
  // detail names key files, Vault paths, ARNs and store hosts, and /readyz is public.
  const reported = new Map<string, string | undefined>();
  const report = (component: string, reason: string | undefined) => {
    if (reported.get(component) === reason) return;
    reported.set(component, reason);
    if (reason === undefined) logger.info({ component }, 'ready again');
    else logger.warn({ component, reason }, 'not ready');
  };

  app.get('/healthz', async () => ({ status: 'ok' }));

  app.get('/readyz', async (_request, reply) => {
    const keys = ring.health();
    report('keys', keys.ready ? undefined : (keys.reason ?? 'not ready'));
    let storeReady = true;
    try {
      await registry.store.ping();
      report('store', undefined);
    } catch (err) {
      storeReady = false;
      report('store', describeError(err));
    }
    const ready = keys.ready && storeReady;
    reply.code(ready ? 200 : 503).header('cache-control', 'no-store');
    return {
      status: ready ? 'ready' : 'not_ready',
      keys: { ready: keys.ready },
      store: { ready: storeReady },
    };
  });

  app.get('/metrics', async (_request, reply) => {
    reply.type(metrics.registry.contentType);
    return metrics.registry.metrics();
  });
}
