import type { FastifyInstance } from 'fastify';
import { audienceText, DEFAULT_ENGINE } from '../../audit/event.js';
import type { ExecutionRecord } from '../../executions/execution.js';
import { effectiveStatus } from '../../executions/execution.js';
import { noteAuditContext } from '../audit-context.js';
import { engineAuthenticator } from '../auth.js';
import { parseEndBody, parseExecutionId, parseStartBody } from '../bodies.js';
import type { ServerDeps } from '../deps.js';

/** Routes the workflow engine calls with its engine token: register, end and look up executions. */
export function engineRoutes(app: FastifyInstance, deps: ServerDeps): void {
  const { config, registry, minter, metrics, audit } = deps;
  const authenticate = engineAuthenticator(deps.engineTokens);
  const requestUrl = `${config.issuer.replace(/\/$/, '')}/v1/token`;

  app.register(async (engine) => {
    engine.addHook('onRequest', async (request) => {
      authenticate(request);
      noteAuditContext(request, { engine: DEFAULT_ENGINE });
    });

    engine.post('/v1/executions', async (request, reply) => {
      const input = parseStartBody(request.body, config.tokens.extra_claims);
      const about = {
        engine: DEFAULT_ENGINE,
        execution_id: input.executionId,
        workflow_id: input.workflowId,
      };
      noteAuditContext(request, about);
      const { record, requestToken, created } = await registry.start(input);
      if (created) metrics.executionsStarted.inc();
      audit.record({
        ...about,
        kind: 'execution.registered',
        outcome: 'ok',
        reason: created ? null : 'already_running',
      });
      const audience = config.tokens.default_audience;
      const token = await minter.mint(record, { audience });
      audit.record({
        ...about,
        kind: 'token.minted',
        audience: audienceText(audience),
        jti: token.jti,
        kid: token.kid,
        outcome: 'ok',
      });
      reply.code(created ? 201 : 200).header('cache-control', 'no-store');
      return {
        execution_id: record.executionId,
        status: 'running',
        request_token: requestToken,
        request_url: requestUrl,
        env: {
          WORKFLOW_ID_TOKEN: token.value,
          WORKFLOW_ID_TOKEN_REQUEST_URL: requestUrl,
          WORKFLOW_ID_TOKEN_REQUEST_TOKEN: requestToken,
        },
      };
    });

    engine.post('/v1/executions/:id/end', async (request) => {
      const id = parseExecutionId((request.params as { id: string }).id);
      noteAuditContext(request, { execution_id: id });
      const { status } = parseEndBody(request.body);
      const record = await registry.end(id, status);
      metrics.executionsEnded.inc({ status: record.status });
      audit.record({
        engine: DEFAULT_ENGINE,
        kind: 'execution.ended',
        execution_id: id,
        workflow_id: record.workflowId,
        outcome: record.status,
        // The first end wins: a later, different one is recorded as such.
        reason: record.status === status ? null : `already_ended:${status}`,
      });
      return view(record);
    });

    engine.get('/v1/executions/:id', async (request) => {
      return view(await registry.get(parseExecutionId((request.params as { id: string }).id)));
    });
  });
}

function view(record: ExecutionRecord) {
  return {
    execution_id: record.executionId,
    workflow_id: record.workflowId,
    status: effectiveStatus(record, Date.now()),
    started_at: new Date(record.startedAt).toISOString(),
    ...(record.endedAt === undefined ? {} : { ended_at: new Date(record.endedAt).toISOString() }),
    deadline: new Date(record.deadline).toISOString(),
  };
}
