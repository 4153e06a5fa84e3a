import { describe, expect, it } from 'vitest';
import type { AuditEvent } from '../../src/audit/event.js';
import { MemoryAuditStore } from '../../src/audit/stores/memory.js';
import { AuditTrail } from '../../src/audit/trail.js';
import { Metrics } from '../../src/metrics.js';

/** A store that can be taken down, for the trail's own logic (the real stores have their suite). */
class FlakyStore extends MemoryAuditStore {
  down = false;
  override async appendEvents(events: readonly AuditEvent[]) {
    if (this.down) throw new Error('store down');
    await super.appendEvents(events);
  }
}

const quiet = { warn: () => {} };

async function counter(metrics: Metrics, name: string): Promise<Record<string, number>> {
  const metric = (await metrics.registry.getMetricsAsJSON()).find((item) => item.name === name);
  return Object.fromEntries(
    (metric?.values ?? []).map((value) => [JSON.stringify(value.labels), value.value]),
  );
}

function trail(store: FlakyStore, metrics: Metrics, queueSize = 4) {
  return new AuditTrail({
    store,
    logger: quiet,
    metrics,
    enabled: true,
    flushMs: 60_000,
    batchSize: 100,
    queueSize,
  });
}

describe('audit trail', () => {
  it('writes queued events in one batch on flush', async () => {
    const store = new FlakyStore();
    const metrics = new Metrics();
    const audit = trail(store, metrics);
    audit.record({ kind: 'token.minted', jti: 'j1', outcome: 'ok' });
    audit.record({ kind: 'token.minted', jti: 'j2', outcome: 'ok' });
    expect((await store.listEvents({ filter: {}, order: 'asc', limit: 10 })).events).toEqual([]);
    await audit.flush();
    const { events } = await store.listEvents({ filter: {}, order: 'asc', limit: 10 });
    expect(events.map((event) => event.jti)).toEqual(['j1', 'j2']);
    expect(await counter(metrics, 'wfid_audit_events_written_total')).toEqual({ '{}': 2 });
  });

  it('keeps events while the store is down, drops and counts beyond the queue, and never throws', async () => {
    const store = new FlakyStore();
    const metrics = new Metrics();
    const audit = trail(store, metrics, 3);
    store.down = true;
    for (const jti of ['a', 'b', 'c', 'd', 'e']) {
      expect(() => audit.record({ kind: 'token.minted', jti, outcome: 'ok' })).not.toThrow();
    }
    await expect(audit.flush()).resolves.toBeUndefined();
    expect(await counter(metrics, 'wfid_audit_events_dropped_total')).toEqual({
      '{"reason":"queue_full"}': 2,
    });
    expect(await counter(metrics, 'wfid_audit_write_failures_total')).toEqual({ '{}': 1 });
    store.down = false;
    await audit.flush();
    const { events } = await store.listEvents({ filter: {}, order: 'asc', limit: 10 });
    expect(events.map((event) => event.jti)).toEqual(['a', 'b', 'c']);
  });

  it('records nothing when disabled', async () => {
    const store = new FlakyStore();
    const audit = new AuditTrail({
      store,
      logger: quiet,
      enabled: false,
      flushMs: 1000,
      batchSize: 10,
      queueSize: 10,
    });
    audit.record({ kind: 'token.minted', outcome: 'ok' });
    await audit.close();
    expect((await store.listEvents({ filter: {}, order: 'asc', limit: 10 })).events).toEqual([]);
  });
});
