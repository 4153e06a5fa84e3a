import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { consoleData } from '../../console/data.js';
import { consolePage, loginPage } from '../../console/pages.js';
import { ConsoleSessions, cookieValue, SESSION_COOKIE } from '../../console/session.js';
import { CONSOLE_CSS } from '../../console/style.js';
import { WfidError } from '../../errors.js';
import type { AdminCredential } from '../admin-auth.js';
import type { ServerDeps } from '../deps.js';

/** No script at all, styles only from this origin, no framing, forms post only here. */
const CSP =
  "default-src 'self'; script-src 'none'; style-src 'self'; img-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

/**
 * `/console`: a read-only, server-rendered page for admins. Logging in with the admin token
 * sets an HttpOnly, SameSite=Strict session cookie (Secure over https); every page with data
 * needs it. The only POSTs are login and logout, which also check the Origin header.
 */
export function consoleRoutes(
  app: FastifyInstance,
  deps: ServerDeps,
  admin: AdminCredential,
): void {
  const sessions = deps.adminToken ? new ConsoleSessions(deps.adminToken) : undefined;
  const issuerOrigin = new URL(deps.config.issuer).origin;

  const secure = (request: FastifyRequest) =>
    request.protocol === 'https' || issuerOrigin.startsWith('https:');
  const session = (request: FastifyRequest) =>
    sessions?.verify(cookieValue(request.headers.cookie, SESSION_COOKIE));
  const setCookie = (
    request: FastifyRequest,
    reply: FastifyReply,
    value: string,
    maxAgeS: number,
  ) =>
    reply.header(
      'set-cookie',
      `${SESSION_COOKIE}=${value}; Path=/console; Max-Age=${maxAgeS}; HttpOnly; SameSite=Strict${secure(request) ? '; Secure' : ''}`,
    );
  /** Login and logout come from this console's own pages, never from another site. */
  const checkOrigin = (request: FastifyRequest) => {
    const origin = request.headers.origin;
    const own = `${request.protocol}://${request.host}`;
    if (origin !== own && origin !== issuerOrigin)
      throw new WfidError('ERR_FORBIDDEN', 'cross-origin request refused');
  };

  app.register(async (scope) => {
    scope.addHook('onSend', async (_request, reply) => {
      // Referrer-Policy same-origin, not no-referrer: with no-referrer a browser sends
      // `Origin: null` on the login form's POST, and the Origin check would refuse it.
      reply
        .header('content-security-policy', CSP)
        .header('x-content-type-options', 'nosniff')
        .header('x-frame-options', 'DENY')
        .header('referrer-policy', 'same-origin')
        .header('cross-origin-opener-policy', 'same-origin');
      if (!reply.hasHeader('cache-control')) reply.header('cache-control', 'no-store');
    });

    scope.get('/console/style.css', async (_request, reply) => {
      reply.type('text/css; charset=utf-8').header('cache-control', 'public, max-age=300');
      return CONSOLE_CSS;
    });

    scope.get('/console/login', async (request, reply) => {
      if (session(request)) return reply.redirect('/console', 303);
      reply.type('text/html; charset=utf-8');
      return loginPage(
        admin.configured ? undefined : 'No admin credential is configured (WFID_ADMIN_TOKEN).',
      );
    });

    scope.post('/console/login', async (request, reply) => {
      checkOrigin(request);
      const body = request.body as Record<string, unknown> | undefined;
      const token = typeof body?.token === 'string' ? body.token : '';
      if (!sessions || !admin.matches(token)) {
        deps.audit.record({
          kind: 'console.login',
          outcome: 'refused',
          reason: 'ERR_UNAUTHORIZED',
        });
        reply.code(401).type('text/html; charset=utf-8');
        return loginPage('That is not the admin token.');
      }
      deps.audit.record({ kind: 'console.login', outcome: 'ok' });
      const { value, maxAgeS } = sessions.issue();
      setCookie(request, reply, value, maxAgeS);
      return reply.redirect('/console', 303);
    });

    scope.post('/console/logout', async (request, reply) => {
      checkOrigin(request);
      sessions?.revoke(cookieValue(request.headers.cookie, SESSION_COOKIE));
      setCookie(request, reply, '', 0);
      return reply.redirect('/console/login', 303);
    });

    scope.get('/console', async (request, reply) => {
      if (!session(request)) return reply.redirect('/console/login', 303);
      const params = Object.fromEntries(
        Object.entries(request.query as Record<string, unknown>).filter(
          (entry): entry is [string, string] => typeof entry[1] === 'string',
        ),
      );
      reply.type('text/html; charset=utf-8');
      return consolePage(await consoleData(deps, params));
    });
  });
}
