import type { FastifyInstance, FastifyRequest } from 'fastify';
import { audienceText } from '../../audit/event.js';
import { WfidError } from '../../errors.js';
import type { MintedToken } from '../../tokens/mint.js';
import { noteAuditContext } from '../audit-context.js';
import { bearerToken } from '../auth.js';
import type { ServerDeps } from '../deps.js';
import { MintRateLimit } from '../rate-limit.js';

/** `/v1/token`: a running execution, holding its request token, asks for identity tokens. */
export function executionRoutes(app: FastifyInstance, deps: ServerDeps): void {
  const { registry, minter, config, audit } = deps;
  const limit = new MintRateLimit(config.tokens.rate_limit);

  const mint = async (request: FastifyRequest, audience: unknown, lifetimeS: unknown) => {
    const requestToken = bearerToken(request);
    if (requestToken === undefined)
      throw new WfidError('ERR_INVALID_TOKEN', 'request token required (Authorization: Bearer)');
    const execution = await registry.authenticate(requestToken);
    let token: MintedToken;
    try {
      limit.take(`${execution.engine}\u0000${execution.executionId}`);
      token = await minter.mint(execution, { audience, lifetimeS });
    } catch (err) {
      // Only a refusal needs the context noted; the mint path stays as short as it can.
      noteAuditContext(request, {
        engine: execution.engine,
        execution_id: execution.executionId,
        workflow_id: execution.workflowId,
        audience: typeof audience === 'string' ? audience : undefined,
      });
      throw err;
    }
    audit.record({
      kind: 'token.minted',
      engine: execution.engine,
      execution_id: execution.executionId,
      workflow_id: execution.workflowId,
      audience: audienceText(audience as string | string[]),
      jti: token.jti,
      kid: token.kid,
      outcome: 'ok',
    });
    return { value: token.value, expires_at: token.expiresAt };
  };

  // No response schema: Fastify's compiled serializer escapes the ~600-character token in
  // JavaScript, slower than the native JSON.stringify it uses without one (~8 µs per token).
  app.post('/v1/token', async (request, reply) => {
    const body = (request.body ?? {}) as Record<string, unknown>;
    reply.header('cache-control', 'no-store');
    return mint(request, body.audience, body.lifetime_s);
  });

  // The shape GitHub's toolkit uses: GET with the audience in the query string.
  app.get('/v1/token', async (request, reply) => {
    const query = request.query as Record<string, unknown>;
    reply.header('cache-control', 'no-store');
    return mint(request, query.audience, query.lifetime_s);
  });
}
