/**
 * `POST /v1/executions` of the issuer (SQLite, the default store) against a bare Fastify route
 * doing the minimum durably (bench/registration-baseline-server.ts), interleaved in the same
 * run. Every request registers a new execution, so every one is a durable write. Figures per
 * wall second: registration is bound by commits (fsync), not CPU.
 */
import { spawn } from 'node:child_process';
import { join, resolve } from 'node:path';
import { ENGINE_TOKEN, startBenchIssuer } from './http.js';
import { freePort, type LoadRequest, measure, waitFor, warmUp } from './load.js';
import { median, round } from './stats.js';

const DIST = resolve(import.meta.dirname, '..');
/** Rounds of each side, interleaved; figures are their medians (one slow round moved a p99 of 3 by half). */
const ROUNDS = 5;

/**
 * A registration body as n8n's hooks send it, with a fresh execution id per request (`tag`
 * keeps ids apart between issuers sharing one store).
 */
export function registrations(
  url: string,
  headers: Record<string, string>,
  tag = 'bench',
): LoadRequest {
  return {
    url,
    headers: { 'content-type': 'application/json', ...headers },
    uniqueBody: JSON.stringify({
      execution_id: `${tag}-${process.pid}-${Date.now()}-{n}`,
      workflow_id: 'wf-bench',
      workflow_name: 'Nightly invoice sync',
      mode: 'trigger',
      environment: 'production',
    }),
  };
}

export async function benchRegistration(): Promise<Record<string, number>> {
  const issuer = await startBenchIssuer();
  const baselinePort = await freePort();
  const baseline = spawn(process.execPath, [join(DIST, 'bench/registration-baseline-server.js')], {
    env: { ...process.env, PORT: String(baselinePort) },
    stdio: 'ignore',
  });
  try {
    await waitFor(`http://127.0.0.1:${baselinePort}/`, baseline);
    const baselineRegistrations = () =>
      registrations(`http://127.0.0.1:${baselinePort}/v1/executions`, {});
    const ourRegistrations = () =>
      registrations(`${issuer.url}/v1/executions`, { authorization: `Bearer ${ENGINE_TOKEN}` });
    await warmUp(baselineRegistrations());
    await warmUp(ourRegistrations());
    const ours = { perSecond: [] as number[], p99: [] as number[], ratio: [] as number[] };
    const base = { perSecond: [] as number[], p99: [] as number[] };
    for (let i = 0; i < ROUNDS; i++) {
      const b = await measure(baseline.pid!, baselineRegistrations());
      const o = await measure(issuer.pid, ourRegistrations());
      base.perSecond.push(b.perWallSecond);
      base.p99.push(b.result.latencyMs.p99);
      ours.perSecond.push(o.perWallSecond);
      ours.p99.push(o.result.latencyMs.p99);
      ours.ratio.push(o.perWallSecond / b.perWallSecond);
    }
    return {
      registration_per_s: Math.round(median(ours.perSecond)),
      registration_baseline_per_s: Math.round(median(base.perSecond)),
      registration_vs_baseline: round(median(ours.ratio)),
      registration_p99_ms: round(median(ours.p99), 1),
      registration_baseline_p99_ms: round(median(base.p99), 1),
    };
  } finally {
    baseline.kill('SIGTERM');
    await issuer.stop();
  }
}
