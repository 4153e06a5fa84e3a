import type { FastifyRequest } from 'fastify';
import type { AuditInput } from '../audit/event.js';

type Context = Partial<Omit<AuditInput, 'kind' | 'outcome'>>;

/**
 * What a route has learnt about a request (which engine, which execution, which audience) by
 * the time it is refused, so that the refusal's audit event names them.
 */
const contexts = new WeakMap<FastifyRequest, Context>();

export function noteAuditContext(request: FastifyRequest, context: Context): void {
  contexts.set(request, { ...contexts.get(request), ...context });
}

export function auditContextOf(request: FastifyRequest): Context {
  return contexts.get(request) ?? {};
}

/** Routes whose refusals (4xx other than 404) are audit events. */
export const AUDITED_ROUTES = new Set([
  '/v1/executions',
  '/v1/executions/:id/end',
  '/v1/executions/:id',
  '/v1/token',
  '/v1/audit',
  '/console/login',
]);
