import type { FastifyInstance } from 'fastify';
import { WfidError } from '../../errors.js';
import { JWS_ALGS } from '../../jws/algorithms.js';
import { RESERVED_CLAIMS } from '../../tokens/claims.js';
import { introspect, introspectionResponse } from '../../tokens/introspect.js';
import { STATUS_LIST_MEDIA_TYPE } from '../../tokens/status-list.js';
import type { ServerDeps } from '../deps.js';

/** Discovery, JWKS, introspection and status lists: what verifiers use, without credentials. */
export function publicRoutes(app: FastifyInstance, deps: ServerDeps): void {
  const { config, ring, registry, metrics, statusLists } = deps;
  const base = config.issuer.replace(/\/$/, '');
  const discovery = JSON.stringify({
    issuer: config.issuer,
    jwks_uri: `${base}/.well-known/jwks.json`,
    introspection_endpoint: `${base}/v1/introspect`,
    // draft-ietf-oauth-status-list §9.1: where the URIs of every live status list are.
    status_list_aggregation_endpoint: statusLists.aggregationUri,
    id_token_signing_alg_values_supported: [...JWS_ALGS],
    claims_supported: [...RESERVED_CLAIMS, ...config.tokens.extra_claims],
    subject_types_supported: ['public'],
    response_types_supported: ['id_token'],
    scopes_supported: ['openid'],
  });
  const maxAge = Math.floor(config.jwks.max_age / 1000);

  app.get('/.well-known/openid-configuration', async (_request, reply) => {
    reply
      .header('cache-control', `public, max-age=${maxAge}`)
      .type('application/json')
      .send(discovery);
  });

  app.get('/.well-known/jwks.json', async (request, reply) => {
    const { body, etag } = ring.jwks();
    reply.header('cache-control', `public, max-age=${maxAge}`).header('etag', etag);
    if (request.headers['if-none-match'] === etag) return reply.code(304).send();
    reply.type('application/json').send(body);
  });

  app.post('/v1/introspect', async (request, reply) => {
    const body = request.body as Record<string, unknown> | undefined;
    const token = typeof body?.token === 'string' ? body.token : '';
    const result = await introspect(token, { ring, registry, issuer: config.issuer });
    metrics.introspections.inc({ result: result.active ? 'active' : result.reason });
    reply.header('cache-control', 'no-store');
    return introspectionResponse(result);
  });

  statusListRoutes(app, deps);
}

/** Status Lists (draft-ietf-oauth-status-list): public, cacheable for `ttl`, readable cross-origin. */
function statusListRoutes(app: FastifyInstance, deps: ServerDeps): void {
  const { statusLists } = deps;
  const cacheControl = `public, max-age=${statusLists.ttlS}`;

  app.get('/v1/status-lists', async (_request, reply) => {
    const uris = await statusLists.aggregation();
    reply.header('cache-control', cacheControl).header('access-control-allow-origin', '*');
    return { status_lists: uris };
  });

  app.get('/v1/status-lists/:id', async (request, reply) => {
    const id = (request.params as { id: string }).id;
    const token = /^(0|[1-9]\d{0,8})$/.test(id) ? await statusLists.token(Number(id)) : undefined;
    if (token === undefined) {
      throw new WfidError('ERR_NOT_FOUND', `no status list ${id.slice(0, 32)}`);
    }
    reply
      .header('cache-control', cacheControl)
      .header('access-control-allow-origin', '*')
      .type(STATUS_LIST_MEDIA_TYPE)
      .send(token);
  });
}
