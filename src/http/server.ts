import formbody from '@fastify/formbody';
import Fastify, {
  type FastifyBaseLogger,
  type FastifyError,
  type FastifyInstance,
  LogController,
} from 'fastify';
import { describeError, isWfidError, WfidError } from '../errors.js';
import { AdminCredential } from './admin-auth.js';
import { AUDITED_ROUTES, auditContextOf } from './audit-context.js';
import type { ServerDeps } from './deps.js';
import { adminRoutes } from './routes/admin.js';
import { consoleRoutes } from './routes/console.js';
import { engineRoutes } from './routes/engine.js';
import { executionRoutes } from './routes/execution.js';
import { opsRoutes } from './routes/ops.js';
import { publicRoutes } from './routes/public.js';

/**
 * The issuer's HTTP server. Every error leaves as `{error, error_description}` with an OAuth-style
 * code; server-side faults are described in the log only, never a stack trace or key material
 * to the client, and no request is logged with its Authorization header.
 */
export async function buildServer(deps: ServerDeps): Promise<FastifyInstance> {
  const app = Fastify({
    loggerInstance: deps.logger as FastifyBaseLogger,
    // No per-request log lines: the mint path stays fast and no Authorization header is ever logged.
    logController: new LogController({ disableRequestLogging: true }),
    // Routes never log per request, so no per-request child logger is built on the hot path.
    childLoggerFactory: (logger) => logger,
    bodyLimit: deps.config.http.body_limit,
    trustProxy: deps.config.http.trust_proxy,
    return503OnClosing: true,
  });
  await app.register(formbody, { bodyLimit: deps.config.http.body_limit });

  app.setErrorHandler((error: FastifyError | WfidError, request, reply) => {
    const wfid = isWfidError(error) ? error : fromFastifyError(error, deps.config.http.body_limit);
    if (!wfid.exposeMessage) {
      deps.logger.error(
        {
          err: describeError(error),
          cause: describeError(error.cause),
          method: request.method,
          url: request.routeOptions.url,
        },
        'request failed',
      );
    }
    deps.metrics.httpErrors.inc({ code: wfid.oauthError });
    if (
      wfid.status >= 400 &&
      wfid.status < 500 &&
      wfid.status !== 404 &&
      AUDITED_ROUTES.has(request.routeOptions.url ?? '')
    ) {
      deps.audit.record({
        ...auditContextOf(request),
        kind: 'request.refused',
        outcome: wfid.oauthError,
        reason: wfid.code,
      });
    }
    if (wfid.retryAfter !== undefined) reply.header('retry-after', String(wfid.retryAfter));
    if (wfid.status === 401) reply.header('www-authenticate', `Bearer error="${wfid.oauthError}"`);
    reply
      .code(wfid.status)
      .header('cache-control', 'no-store')
      .send({
        error: wfid.oauthError,
        error_description: wfid.exposeMessage ? wfid.message : publicDescription(wfid),
      });
  });

  app.setNotFoundHandler((request, reply) => {
    deps.metrics.httpErrors.inc({ code: 'not_found' });
    reply.code(404).send({
      error: 'not_found',
      error_description: `no route ${request.method} ${request.url.split('?')[0]}`,
    });
  });

  publicRoutes(app, deps);
  engineRoutes(app, deps);
  executionRoutes(app, deps);
  opsRoutes(app, deps);
  const admin = new AdminCredential(
    deps.adminToken,
    deps.engineCredentials.map(({ token }) => token),
  );
  adminRoutes(app, deps, admin);
  consoleRoutes(app, deps, admin);
  return app;
}

/** Fastify's own errors (bad JSON, body too large, wrong media type) are the client's fault. */
function fromFastifyError(error: FastifyError, bodyLimit: number): WfidError {
  const status = error.statusCode ?? 500;
  if (status === 413) {
    return new WfidError(
      'ERR_PAYLOAD_TOO_LARGE',
      `request body larger than http.body_limit (${bodyLimit} bytes)`,
    );
  }
  if (status >= 400 && status < 500) {
    return new WfidError(
      'ERR_INVALID_REQUEST',
      error.code?.startsWith('FST_') ? error.message : 'malformed request',
    );
  }
  return new WfidError('ERR_BACKEND', 'internal error', { cause: error });
}

function publicDescription(error: WfidError): string {
  return error.status === 503
    ? 'the issuer cannot sign or reach its store right now; retry later'
    : 'internal error';
}
