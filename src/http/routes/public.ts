import type { FastifyInstance } from 'fastify';
import { audienceText, DEFAULT_ENGINE } from '../../audit/event.js';
import { WfidError } from '../../errors.js';
import { JWS_ALGS } from '../../jws/algorithms.js';
import { decodeCompact, decodeJsonSegment } from '../../jws/decode-compact.js';
import { RESERVED_CLAIMS } from '../../tokens/claims.js';
import { introspect, introspectionResponse } from '../../tokens/introspect.js';
import { STATUS_LIST_MEDIA_TYPE } from '../../tokens/status-list.js';
import type { ServerDeps } from '../deps.js';

/** Discovery, JWKS, introspection and status lists: what verifiers use, without credentials. */
export function publicRoutes(app: FastifyInstance, deps: ServerDeps): void {
  const { config, ring, registry, metrics, statusLists, audit } = deps;
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
    // A known token is one whose signature a key of ours verified; forgeries are not events.
    if (result.active || SIGNED_BY_US.has(result.reason)) {
      // Decoding again only what introspection has already verified: it cannot fail here.
      const { encodedHeader, payload: claims } = decodeCompact(token);
      const header = decodeJsonSegment(encodedHeader, 'header');
      audit.record({
        kind: 'token.introspected',
        // Tokens minted before engines had namespaces carry no engine: the default's.
        engine: stringOrNull(claims.engine) ?? DEFAULT_ENGINE,
        execution_id: stringOrNull(claims.execution_id),
        workflow_id: stringOrNull(claims.workflow_id),
        audience:
          typeof claims.aud === 'string' || Array.isArray(claims.aud)
            ? audienceText(claims.aud as string | string[])
            : null,
        jti: stringOrNull(claims.jti),
        kid: stringOrNull(header.kid),
        outcome: result.active ? 'active' : 'inactive',
        reason: result.active ? null : result.reason,
      });
    }
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

/** Inactive reasons that come after the signature was verified with one of our keys. */
const SIGNED_BY_US = new Set(['wrong_issuer', 'expired', 'not_yet_valid', 'execution_ended']);

function stringOrNull(value: unknown): string | null {
  return typeof value === 'string' ? value : null;
}
