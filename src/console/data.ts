import type { AuditEvent, AuditQuery } from '../audit/event.js';
import { parseAuditQuery } from '../audit/query.js';
import { keyTimes } from '../config/times.js';
import { describeError } from '../errors.js';
import { DEFAULT_ENGINE } from '../executions/engine.js';
import { effectiveStatus } from '../executions/execution.js';
import type { ServerDeps } from '../http/deps.js';
import { scheduleOf } from '../keys/plan.js';
import type { KeyStateRecord } from '../keys/states.js';

/** Counts cover this much of the recent trail, reading at most COUNT_SCAN events. */
export const COUNT_WINDOW_MS = 86_400_000;
const COUNT_SCAN = 5000;
const RUNNING_SHOWN = 25;
const RECENT_LIMIT = 50;

export interface KeyRow {
  kid: string;
  state: string;
  alg: string;
  ref: string;
  record?: KeyStateRecord;
  activatesAt?: number;
  retiresAt?: number;
}

export interface TimelineEntry {
  time: number;
  kid: string;
  what: 'published' | 'activated' | 'retiring' | 'retired' | 'activates' | 'retires';
  planned: boolean;
}

export interface Health {
  name: string;
  kind: string;
  ready: boolean;
  detail?: string;
}

export interface ConsoleData {
  now: number;
  health: Health[];
  keys: KeyRow[];
  timeline: TimelineEntry[];
  nextRotation?: number;
  rotationEvery?: number;
  /** Running executions are looked for among those registered this long ago or later. */
  runningWindowMs: number;
  running: { executionId: string; workflowId: string; startedAt: number; deadline: number }[];
  counts: { workflows: [string, number][]; audiences: [string, number][]; scanned: number };
  recent: { query?: AuditQuery; events: AuditEvent[]; next?: string; error?: string };
  params: Record<string, string>;
}

/** Everything the console page shows, read from the ring, the store and the audit trail. */
export async function consoleData(
  deps: ServerDeps,
  params: Record<string, string>,
): Promise<ConsoleData> {
  const { config, ring, registry, audit } = deps;
  await audit.flush();
  const now = Date.now();
  const store = registry.store;
  const health: Health[] = [];
  const keysHealth = ring.health();
  health.push({
    name: 'Key backend',
    kind: ring.backend.kind,
    ready: keysHealth.ready,
    detail: keysHealth.reason,
  });
  let records: KeyStateRecord[] = [];
  try {
    await store.ping();
    records = await store.keyStates.listKeyStates();
    health.push({ name: 'Store', kind: store.kind, ready: true });
  } catch (err) {
    deps.logger.warn({ err: describeError(err) }, 'console: store unreachable');
    health.push({ name: 'Store', kind: store.kind, ready: false, detail: 'unreachable' });
  }
  health.push({
    name: 'Audit trail',
    kind: config.audit.enabled ? 'enabled' : 'disabled',
    ready: config.audit.enabled,
    detail: `${audit.queued} queued`,
  });

  const times = keyTimes(config);
  const byKid = new Map(records.map((record) => [record.kid, record]));
  const keys: KeyRow[] = ring.allKeys().map((key) => {
    const record = byKid.get(key.kid);
    return {
      kid: key.kid,
      state: record?.state ?? (key.backendKey.enabled ? 'unrecorded' : 'disabled'),
      alg: key.backendKey.alg,
      ref: key.backendKey.ref,
      record,
      ...(record ? scheduleOf(record, times) : {}),
    };
  });
  const order = ['pending', 'active', 'retiring', 'retired'];
  keys.sort(
    (a, b) => order.indexOf(a.state) - order.indexOf(b.state) || a.kid.localeCompare(b.kid),
  );

  const timeline: TimelineEntry[] = [];
  for (const row of keys) {
    const record = row.record;
    if (!record) continue;
    timeline.push({ time: record.publishedAt, kid: row.kid, what: 'published', planned: false });
    if (record.activatedAt !== undefined)
      timeline.push({ time: record.activatedAt, kid: row.kid, what: 'activated', planned: false });
    if (record.retiringAt !== undefined)
      timeline.push({ time: record.retiringAt, kid: row.kid, what: 'retiring', planned: false });
    if (record.retiredAt !== undefined)
      timeline.push({ time: record.retiredAt, kid: row.kid, what: 'retired', planned: false });
    if (row.activatesAt !== undefined)
      timeline.push({ time: row.activatesAt, kid: row.kid, what: 'activates', planned: true });
    if (row.retiresAt !== undefined)
      timeline.push({ time: row.retiresAt, kid: row.kid, what: 'retires', planned: true });
  }
  timeline.sort((a, b) => b.time - a.time);
  const pending = keys.find((row) => row.state === 'pending' && row.activatesAt !== undefined);
  const active = records.find((record) => record.state === 'active');
  const every = config.rotation.every;
  const nextRotation =
    pending?.activatesAt ??
    (every !== undefined && active
      ? (active.activatedAt ?? active.publishedAt) + every
      : undefined);

  return {
    now,
    health,
    keys,
    timeline,
    nextRotation,
    rotationEvery: every,
    runningWindowMs: config.executions.max_duration,
    running: await runningExecutions(deps, now),
    counts: await counts(deps, now),
    recent: await recent(deps, params),
    params,
  };
}

/** Executions registered within the longest deadline, still running in the store now. */
async function runningExecutions(deps: ServerDeps, now: number) {
  const page = await deps.audit.store.listEvents({
    filter: { kind: 'execution.registered', since: now - deps.config.executions.max_duration },
    order: 'desc',
    limit: 500,
  });
  // Execution ids are unique per engine only: an execution is its engine and id.
  const executions = new Map<string, { engine: string; id: string }>();
  for (const { engine, execution_id: id } of page.events) {
    const name = engine ?? DEFAULT_ENGINE;
    if (id !== null) executions.set(JSON.stringify([name, id]), { engine: name, id });
  }
  const running = [];
  for (const { engine, id } of [...executions.values()].slice(0, RUNNING_SHOWN * 2)) {
    const record = await deps.registry.store.getExecution(engine, id);
    if (record && effectiveStatus(record, now) === 'running') {
      running.push({
        executionId: record.executionId,
        workflowId: record.workflowId,
        startedAt: record.startedAt,
        deadline: record.deadline,
      });
    }
    if (running.length === RUNNING_SHOWN) break;
  }
  return running;
}

/** Mints per workflow and per audience over the last day (at most COUNT_SCAN events read). */
async function counts(deps: ServerDeps, now: number) {
  const workflows = new Map<string, number>();
  const audiences = new Map<string, number>();
  let scanned = 0;
  let after: string | undefined;
  do {
    const page = await deps.audit.store.listEvents({
      filter: { kind: 'token.minted', since: now - COUNT_WINDOW_MS },
      order: 'desc',
      limit: 1000,
      ...(after ? { after } : {}),
    });
    for (const event of page.events) {
      const workflow = event.workflow_id ?? '—';
      const audience = event.audience ?? '—';
      workflows.set(workflow, (workflows.get(workflow) ?? 0) + 1);
      audiences.set(audience, (audiences.get(audience) ?? 0) + 1);
    }
    scanned += page.events.length;
    after = page.next;
  } while (after && scanned < COUNT_SCAN);
  const top = (map: Map<string, number>) =>
    [...map].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0])).slice(0, 20);
  return { workflows: top(workflows), audiences: top(audiences), scanned };
}

/** Recent events with the page's filters; mints unless another kind is chosen. */
async function recent(deps: ServerDeps, params: Record<string, string>) {
  let query: AuditQuery;
  try {
    query = parseAuditQuery({
      kind: 'token.minted',
      ...params,
      order: 'desc',
      limit: String(RECENT_LIMIT),
    });
  } catch (err) {
    return { events: [], error: err instanceof Error ? err.message : 'invalid filter' };
  }
  const page = await deps.audit.store.listEvents(query);
  return { query, events: page.events, next: page.next };
}
