import type { FastifyInstance, FastifyRequest } from 'fastify';
import { audienceText } from '../../audit/event.js';
import type { Engine } from '../../executions/engine.js';
import type { ExecutionRecord } from '../../executions/execution.js';
import { effectiveStatus } from '../../executions/execution.js';
import { noteAuditContext } from '../audit-context.js';
import { engineAuthenticator } from '../auth.js';
import { parseEndBody, parseExecutionId, parseResumeBody, parseStartBody } from '../bodies.js';
import type { ServerDeps } from '../deps.js';

/** Routes the workflow engine calls with its engine token: register, end and look up executions. */
export function engineRoutes(app: FastifyInstance, deps: ServerDeps): void {
  const { config, registry, minter, metrics, audit } = deps;
  const authenticate = engineAuthenticator(deps.engineCredentials);
  const requestUrl = `${config.issuer.replace(/\/$/, '')}/v1/token`;
  // Set by the onRequest hook before any route runs (and before the body is read).
  const engines = new WeakMap<FastifyRequest, Engine>();
  const engineOf = (request: FastifyRequest) => engines.get(request)!;

  app.register(async (scope) => {
    scope.addHook('onRequest', async (request) => {
      const engine = authenticate(request);
      engines.set(request, engine);
      noteAuditContext(request, { engine: engine.name });
    });

    scope.post('/v1/executions', async (request, reply) => {
      const engine = engineOf(request);
      const input = parseStartBody(request.body, config.tokens.extra_claims);
      const about = {
        engine: engine.name,
        execution_id: input.executionId,
        workflow_id: input.workflowId,
      };
      noteAuditContext(request, about);
      const { record, requestToken, created } = await registry.start(engine, input);
      if (created) metrics.executionsStarted.inc();
      audit.record({
        ...about,
        kind: 'execution.registered',
        outcome: 'ok',
        reason: created ? null : 'already_running',
      });
      const audience = config.tokens.default_audience;
      // A registration's token: its claims are not kept for later tokens (TokenMinter).
      const token = await minter.mint(record, { audience }, { keepClaims: false });
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

    scope.post('/v1/executions/:id/end', async (request) => {
      const engine = engineOf(request);
      const id = parseExecutionId((request.params as { id: string }).id);
      noteAuditContext(request, { execution_id: id });
      const { status } = parseEndBody(request.body);
      const record = await registry.end(engine, id, status);
      metrics.executionsEnded.inc({ status: record.status });
      audit.record({
        engine: engine.name,
        kind: 'execution.ended',
        execution_id: id,
        workflow_id: record.workflowId,
        outcome: record.status,
        // The first end wins: a later, different one is recorded as such.
        reason: record.status === status ? null : `already_ended:${status}`,
      });
      return view(record);
    });

    // A paused execution (n8n Wait node) mints nothing until the engine resumes it.
    scope.post('/v1/executions/:id/wait', async (request) => {
      const engine = engineOf(request);
      const id = parseExecutionId((request.params as { id: string }).id);
      noteAuditContext(request, { execution_id: id });
      const record = await registry.wait(engine, id);
      audit.record({
        engine: engine.name,
        kind: 'execution.waiting',
        execution_id: id,
        workflow_id: record.workflowId,
        outcome: 'ok',
        reason: null,
      });
      return view(record);
    });

    scope.post('/v1/executions/:id/resume', async (request, reply) => {
      const engine = engineOf(request);
      const id = parseExecutionId((request.params as { id: string }).id);
      noteAuditContext(request, { execution_id: id });
      const { maxDurationS } = parseResumeBody(request.body);
      const { record, requestToken } = await registry.resume(engine, id, maxDurationS);
      audit.record({
        engine: engine.name,
        kind: 'execution.resumed',
        execution_id: id,
        workflow_id: record.workflowId,
        outcome: 'ok',
        reason: null,
      });
      reply.header('cache-control', 'no-store');
      return { ...view(record), request_token: requestToken, request_url: requestUrl };
    });

    scope.get('/v1/executions/:id', async (request) => {
      const id = parseExecutionId((request.params as { id: string }).id);
      return view(await registry.get(engineOf(request), id));
    });
  });
}

function view(record: ExecutionRecord) {
  return {
    engine: record.engine,
    execution_id: record.executionId,
    workflow_id: record.workflowId,
    status: effectiveStatus(record, Date.now()),
    started_at: new Date(record.startedAt).toISOString(),
    ...(record.endedAt === undefined ? {} : { ended_at: new Date(record.endedAt).toISOString() }),
    deadline: new Date(record.deadline).toISOString(),
  };
}
