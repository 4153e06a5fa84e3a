/**
 * GET /v1/audit on the real `wfid serve` process, on every store it runs with: SQLite (the
 * default), PostgreSQL and Redis. Events come from real requests; nothing secret is stored.
 */
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startPostgres } from '../peers/postgres.js';
import { startRedis } from '../peers/redis.js';
import { type RunningIssuer, startIssuer, until } from './harness.js';

const ADMIN_TOKEN = `wfa_${'a1b2c3d4'.repeat(5)}`;

interface AuditAnswer {
  events: Record<string, string | null>[];
  next: string | null;
}

const STORES: Record<string, () => Promise<{ url?: string; close(): Promise<void> }>> = {
  sqlite: async () => ({ close: async () => {} }),
  postgres: async () => {
    const pg = await startPostgres();
    return { url: pg.url, close: () => pg.close() };
  },
  redis: async () => {
    const redis = await startRedis();
    return { url: redis.url, close: () => redis.close() };
  },
};

for (const [name, startStore] of Object.entries(STORES)) {
  describe(`GET /v1/audit on ${name}`, () => {
    let store: { url?: string; close(): Promise<void> };
    let issuer: RunningIssuer;
    const secrets: string[] = [ADMIN_TOKEN];

    const audit = async (query: Record<string, string>, token = ADMIN_TOKEN) =>
      issuer.fetch(`/v1/audit?${new URLSearchParams(query)}`, {
        headers: { authorization: `Bearer ${token}` },
      });
    const events = async (query: Record<string, string>) => {
      const response = await audit(query);
      expect(response.status).toBe(200);
      return (await response.json()) as AuditAnswer;
    };

    beforeAll(async () => {
      store = await startStore();
      issuer = await startIssuer({
        env: {
          WFID_ADMIN_TOKEN: ADMIN_TOKEN,
          // Never on its own during the test: reads must flush what this replica queued.
          WFID_AUDIT_FLUSH_INTERVAL: '1h',
          WFID_TOKENS_RATE_LIMIT: '3',
          WFID_TOKENS_AUDIENCES: 'aud-default,aud-a,aud-b',
          WFID_TOKENS_DEFAULT_AUDIENCE: 'aud-default',
          ...(store.url ? { WFID_STORE: store.url } : {}),
        },
      });
      secrets.push(issuer.engineToken);
    });
    afterAll(async () => {
      await issuer?.stop();
      await store?.close();
    });

    it('records a registration, mints, an introspection, refusals and the end of one execution', async () => {
      const workflow = `wf-${name}-${Date.now()}`;
      const started = await issuer.startExecution({ workflow_id: workflow });
      const id = started.execution_id;
      secrets.push(started.request_token, started.env.WORKFLOW_ID_TOKEN!);
      const first = await issuer.mint(started.request_token, 'aud-a');
      const second = await issuer.mint(started.request_token, 'aud-b');
      secrets.push(first.value, second.value);
      // A policy refusal (audience not allowed), then the rate limit: 3 requests a minute, the
      // registration's own token aside.
      expect((await issuer.mintResponse(started.request_token, 'aud-evil')).status).toBe(400);
      expect((await issuer.mintResponse(started.request_token, 'aud-a')).status).toBe(429);
      const introspected = await issuer.fetch('/v1/introspect', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ token: first.value }),
      });
      expect(((await introspected.json()) as { active: boolean }).active).toBe(true);
      expect((await issuer.endExecution(id)).status).toBe(200);
      const badEngine = await issuer.fetch('/v1/executions', {
        method: 'POST',
        headers: {
          authorization: 'Bearer not-the-engine-token',
          'content-type': 'application/json',
        },
        body: '{}',
      });
      expect(badEngine.status).toBe(401); // a wrong engine token is refused, and recorded

      let answer: AuditAnswer = { events: [], next: null };
      await until(async () => {
        answer = await events({ execution_id: id });
        return answer.events.some((event) => event.kind === 'execution.ended');
      });
      expect(answer.events.map((event) => [event.kind, event.outcome, event.reason])).toEqual([
        ['execution.registered', 'ok', null],
        ['token.minted', 'ok', null],
        ['token.minted', 'ok', null],
        ['token.minted', 'ok', null],
        ['request.refused', 'invalid_request', 'ERR_INVALID_REQUEST'],
        ['request.refused', 'rate_limited', 'ERR_RATE_LIMITED'],
        ['token.introspected', 'active', null],
        ['execution.ended', 'success', null],
      ]);
      const minted = answer.events.filter((event) => event.kind === 'token.minted');
      expect(minted.map((event) => event.audience)).toEqual(['aud-default', 'aud-a', 'aud-b']);
      const [activeKid] = await issuer.jwksKids();
      for (const event of answer.events) {
        expect(event.engine).toBe('default');
        expect(event.workflow_id).toBe(workflow);
        expect(Date.parse(event.time!)).toBeGreaterThan(Date.now() - 60_000);
      }
      expect(minted.every((event) => event.kid === activeKid && event.jti)).toBe(true);
      const firstClaims = JSON.parse(
        Buffer.from(first.value.split('.')[1]!, 'base64url').toString(),
      ) as { jti: string };
      expect(minted[1]!.jti).toBe(firstClaims.jti);
      await until(async () => {
        const refused = await events({ kind: 'request.refused', since: '5m' });
        return refused.events.some((event) => event.reason === 'ERR_UNAUTHORIZED');
      });
    });

    it('filters by workflow, audience, kid, kind and time, and pages with an opaque cursor', async () => {
      const workflow = `wf-pages-${name}-${Date.now()}`;
      const started = await issuer.startExecution({ workflow_id: workflow });
      secrets.push(started.request_token);
      for (const audience of ['aud-a', 'aud-b', 'aud-a']) {
        secrets.push((await issuer.mint(started.request_token, audience)).value);
      }
      await until(
        async () =>
          (await events({ workflow_id: workflow, kind: 'token.minted' })).events.length === 4,
      );
      const byAudience = await events({ workflow_id: workflow, audience: 'aud-a' });
      expect(byAudience.events.map((event) => event.audience)).toEqual(['aud-a', 'aud-a']);
      const [kid] = await issuer.jwksKids();
      expect((await events({ workflow_id: workflow, kid: kid! })).events).toHaveLength(4);
      expect((await events({ workflow_id: workflow, kid: 'no-such-kid' })).events).toEqual([]);
      const all = await events({ workflow_id: workflow });
      const times = all.events.map((event) => event.time!);
      expect(
        (await events({ workflow_id: workflow, since: times[1]!, until: times.at(-1)! })).events
          .length,
      ).toBeGreaterThanOrEqual(3);
      expect(
        (await events({ workflow_id: workflow, until: '2000-01-01T00:00:00Z' })).events,
      ).toEqual([]);

      const seen: string[] = [];
      let cursor: string | null = null;
      for (let page = 0; page < 10; page++) {
        const answer = await events({
          workflow_id: workflow,
          limit: '2',
          ...(cursor ? { cursor } : {}),
        });
        seen.push(...answer.events.map((event) => event.id!));
        cursor = answer.next;
        if (!cursor) break;
        expect(cursor).not.toContain(answer.events.at(-1)!.id);
      }
      expect(seen).toEqual(all.events.map((event) => event.id));
      expect(cursor).toBeNull();
      const desc = await events({ workflow_id: workflow, order: 'desc' });
      expect(desc.events.map((event) => event.id)).toEqual([...seen].reverse());
    });

    it('refuses engine and request tokens, wrong tokens and bad queries', async () => {
      const started = await issuer.startExecution();
      secrets.push(started.request_token);
      expect((await audit({}, issuer.engineToken)).status).toBe(403);
      expect((await audit({}, started.request_token)).status).toBe(403);
      expect((await audit({}, `${ADMIN_TOKEN}x`)).status).toBe(401);
      const anonymous = await issuer.fetch('/v1/audit');
      expect(anonymous.status).toBe(401);
      expect(((await anonymous.json()) as { error: string }).error).toBe('unauthorized');
      const badQueries: Record<string, string>[] = [
        { kind: 'token.stolen' },
        { since: 'yesterday' },
        { limit: '0' },
        { cursor: 'not-a-cursor' },
      ];
      for (const query of badQueries) {
        const response = await audit(query);
        expect(response.status).toBe(400);
        expect(((await response.json()) as { error: string }).error).toBe('invalid_request');
      }
    });

    it('never stores or logs a token, a request token, the engine token or the admin token', async () => {
      await until(
        async () => (await events({ kind: 'request.refused', since: '5m' })).events.length >= 4,
      );
      const stored = await storedBytes(name, issuer, store.url);
      const logs = issuer.logs();
      expect(secrets.length).toBeGreaterThan(8);
      for (const secret of secrets) {
        expect(stored.includes(secret)).toBe(false);
        expect(logs.includes(secret)).toBe(false);
      }
      // The check can fail: the stored events do hold the identifiers.
      expect(stored).toContain('token.minted');
    });
  });
}

/** Every audit event the store holds, as text: the SQLite files, or the events through the API. */
async function storedBytes(name: string, issuer: RunningIssuer, url?: string): Promise<string> {
  if (name === 'sqlite') {
    const files = (await readdir(issuer.dataDir)).filter((file) => file.startsWith('wfid.db'));
    const contents = await Promise.all(files.map((file) => readFile(join(issuer.dataDir, file))));
    return Buffer.concat(contents).toString('latin1');
  }
  if (name === 'postgres') {
    const pg = await import('pg');
    const client = new pg.default.Client(url);
    await client.connect();
    const { rows } = await client.query('SELECT * FROM wfid_audit_events');
    await client.end();
    return JSON.stringify(rows);
  }
  const { Redis } = await import('ioredis');
  const redis = new Redis(url!);
  const members = await redis.zrange('wfid:audit', '0', '-1');
  redis.disconnect();
  return members.join('\n');
}
