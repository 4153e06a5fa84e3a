import type { FastifyInstance } from 'fastify';
import { JWS_ALGS } from '../../jws/algorithms.js';
import { RESERVED_CLAIMS } from '../../tokens/claims.js';
import { introspect, introspectionResponse } from '../../tokens/introspect.js';
import type { ServerDeps } from '../deps.js';

/** Discovery, JWKS and introspection: what verifiers use, without credentials. */
export function publicRoutes(app: FastifyInstance, deps: ServerDeps): void {
  const { config, ring, registry, metrics } = deps;
  const base = config.issuer.replace(/\/$/, '');
  const discovery = JSON.stringify({
    issuer: config.issuer,
    jwks_uri: `${base}/.well-known/jwks.json`,
    introspection_endpoint: `${base}/v1/introspect`,
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
}
