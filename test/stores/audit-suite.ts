/**
 * The audit behaviour every store passes (memory, SQLite, PostgreSQL, Redis):
 *   describeAuditSuite('sqlite', async () => ({ store, cleanup }));
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type AuditEvent,
  type AuditInput,
  type AuditQuery,
  toEvent,
} from '../../src/audit/event.js';
import type { ExecutionStore } from '../../src/executions/store.js';
import type { OpenedStore } from './store-suite.js';

/** Five events of one workflow, one millisecond apart from `base`. */
function history(base: number): AuditEvent[] {
  const workflow_id = `wf-${randomUUID()}`;
  const inputs: AuditInput[] = [
    { kind: 'execution.registered', execution_id: 'e1', workflow_id, outcome: 'ok' },
    {
      kind: 'token.minted',
      execution_id: 'e1',
      workflow_id,
      audience: 'aud-a',
      jti: 'j1',
      kid: 'k1',
      outcome: 'ok',
    },
    {
      kind: 'token.minted',
      execution_id: 'e2',
      workflow_id,
      audience: 'aud-b',
      jti: 'j2',
      kid: 'k2',
      outcome: 'ok',
    },
    {
      kind: 'request.refused',
      execution_id: 'e2',
      workflow_id,
      outcome: 'rate_limited',
      reason: 'ERR_RATE_LIMITED',
    },
    { kind: 'execution.ended', execution_id: 'e1', workflow_id, outcome: 'success' },
  ];
  return inputs.map((input, index) => toEvent({ engine: 'default', ...input }, base + index));
}

export function describeAuditSuite(name: string, open: () => Promise<OpenedStore>): void {
  describe(`${name} audit store`, () => {
    let opened: OpenedStore;
    let store: ExecutionStore;
    const list = (query: Partial<AuditQuery> & Pick<AuditQuery, 'filter'>) =>
      store.audit.listEvents({ order: 'asc', limit: 100, ...query });

    beforeAll(async () => {
      opened = await open();
      store = opened.store;
    });
    afterAll(async () => {
      await store?.close();
      await opened?.cleanup?.();
    });

    it('keeps every field of a batch and lists it in time order, both ways', async () => {
      const events = history(Date.now());
      // Written out of order: the store orders by id (time first).
      await store.audit.appendEvents([...events].reverse());
      const workflow_id = events[0]!.workflow_id!;
      expect((await list({ filter: { workflow_id } })).events).toEqual(events);
      expect((await list({ filter: { workflow_id }, order: 'desc' })).events).toEqual(
        [...events].reverse(),
      );
    });

    it('filters by execution, audience, kid, kind and time window', async () => {
      const events = history(Date.now() - 60_000);
      await store.audit.appendEvents(events);
      const workflow_id = events[0]!.workflow_id!;
      const ids = async (filter: Record<string, unknown>) =>
        (await list({ filter: { workflow_id, ...filter } })).events.map((event) => event.id);
      const [registered, minted1, minted2, refused, ended] = events.map((event) => event.id);
      expect(await ids({ execution_id: 'e1' })).toEqual([registered, minted1, ended]);
      expect(await ids({ audience: 'aud-b' })).toEqual([minted2]);
      expect(await ids({ kid: 'k1' })).toEqual([minted1]);
      expect(await ids({ kind: 'token.minted' })).toEqual([minted1, minted2]);
      expect(await ids({ kind: 'request.refused', execution_id: 'e2' })).toEqual([refused]);
      expect(await ids({ since: events[1]!.time, until: events[3]!.time })).toEqual([
        minted1,
        minted2,
        refused,
      ]);
      expect(await ids({ execution_id: 'nobody' })).toEqual([]);
    });

    it('pages with a cursor without gaps or repeats, and says when nothing more matched', async () => {
      const events = history(Date.now() - 120_000);
      await store.audit.appendEvents(events);
      const workflow_id = events[0]!.workflow_id!;
      for (const order of ['asc', 'desc'] as const) {
        const seen: string[] = [];
        let after: string | undefined;
        for (let page = 0; page < 10; page++) {
          const result = await list({ filter: { workflow_id }, order, limit: 2, after });
          seen.push(...result.events.map((event) => event.id));
          after = result.next;
          if (!after) break;
        }
        const expected = events.map((event) => event.id);
        expect(seen).toEqual(order === 'asc' ? expected : expected.reverse());
        expect(after).toBeUndefined();
      }
    });

    it('prunes events older than the retention cutoff', async () => {
      const base = Date.now() - 40 * 86_400_000;
      const events = history(base);
      await store.audit.appendEvents(events);
      const workflow_id = events[0]!.workflow_id!;
      expect(await store.audit.pruneEvents(base + 3)).toBeGreaterThanOrEqual(3);
      expect((await list({ filter: { workflow_id } })).events).toEqual(events.slice(3));
    });

    it('prunes more events than one deletion step takes', async () => {
      const base = Date.now() - 50 * 86_400_000;
      const workflow_id = `wf-bulk-${randomUUID()}`;
      const bulk = Array.from({ length: 2500 }, (_, index) =>
        toEvent({ kind: 'token.minted', workflow_id, outcome: 'ok' }, base + index),
      );
      await store.audit.appendEvents(bulk);
      expect(await store.audit.pruneEvents(base + 2400)).toBeGreaterThanOrEqual(2400);
      const left = await list({ filter: { workflow_id } });
      expect(left.events.map((event) => event.id)).toEqual(
        bulk.slice(2400).map((event) => event.id),
      );
    });
  });
}
