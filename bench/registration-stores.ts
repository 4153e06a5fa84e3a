/**
 * `POST /v1/executions` with each store (SQLite, PostgreSQL, Redis) in the same run, rounds
 * interleaved: every request registers a new execution, so every one is a durable write.
 * Figures per wall second (registration is bound by commits, not CPU) and p99, 32 connections:
 *   registration_<store>_per_s, registration_<store>_p99_ms
 */
import { type BenchIssuer, ENGINE_TOKEN, startBenchIssuer } from './http.js';
import { type LoadRequest, measure } from './load.js';
import { median, round } from './stats.js';
import { startBenchStores } from './stores.js';

const ROUNDS = 3;
const KINDS = ['sqlite', 'postgres', 'redis'] as const;

/** A registration as n8n's hooks send it, with a fresh execution id per request. */
function registrations(issuer: BenchIssuer, kind: string): LoadRequest {
  return {
    url: `${issuer.url}/v1/executions`,
    headers: { 'content-type': 'application/json', authorization: `Bearer ${ENGINE_TOKEN}` },
    uniqueBody: JSON.stringify({
      execution_id: `bench-${kind}-${process.pid}-${Date.now()}-{n}`,
      workflow_id: 'wf-bench',
      workflow_name: 'Nightly invoice sync',
      mode: 'trigger',
      environment: 'production',
    }),
  };
}

export async function benchRegistrationStores(): Promise<Record<string, number>> {
  const peers = await startBenchStores();
  const issuers: Partial<Record<(typeof KINDS)[number], BenchIssuer>> = {};
  try {
    for (const kind of KINDS)
      issuers[kind] = await startBenchIssuer({ WFID_STORE: peers.urls[kind] });
    const perSecond = Object.fromEntries(KINDS.map((kind) => [kind, [] as number[]]));
    const p99 = Object.fromEntries(KINDS.map((kind) => [kind, [] as number[]]));
    for (let i = 0; i < ROUNDS; i++) {
      for (const kind of KINDS) {
        const issuer = issuers[kind]!;
        const { perWallSecond, result } = await measure(issuer.pid, registrations(issuer, kind));
        perSecond[kind]!.push(perWallSecond);
        p99[kind]!.push(result.latencyMs.p99);
      }
    }
    const figures: Record<string, number> = {};
    for (const kind of KINDS) {
      figures[`registration_${kind}_per_s`] = Math.round(median(perSecond[kind]!));
      figures[`registration_${kind}_p99_ms`] = round(median(p99[kind]!), 1);
    }
    return figures;
  } finally {
    for (const issuer of Object.values(issuers)) await issuer.stop().catch(() => {});
    await peers.close();
  }
}
