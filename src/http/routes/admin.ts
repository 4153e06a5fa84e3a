import type { FastifyInstance } from 'fastify';
import { encodeCursor } from '../../audit/event.js';
import { eventView, parseAuditQuery } from '../../audit/query.js';
import type { AdminCredential } from '../admin-auth.js';
import type { ServerDeps } from '../deps.js';

/** `GET /v1/audit`: the audit trail, for the admin credential only. */
export function adminRoutes(app: FastifyInstance, deps: ServerDeps, admin: AdminCredential): void {
  app.register(async (scope) => {
    scope.addHook('onRequest', async (request) => admin.authenticate(request));

    scope.get('/v1/audit', async (request, reply) => {
      const query = parseAuditQuery(request.query as Record<string, unknown>);
      // Read-your-writes on this replica: what it has queued is written before the read.
      await deps.audit.flush();
      const page = await deps.audit.store.listEvents(query);
      reply.header('cache-control', 'no-store');
      return {
        events: page.events.map(eventView),
        next: page.next === undefined ? null : encodeCursor(page.next),
      };
    });
  });
}
