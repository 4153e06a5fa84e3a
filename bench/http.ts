import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { freePort, measure, peakRssMb, waitFor, warmUp } from './load.js';
import { median, round } from './stats.js';
import { startBenchStores } from './stores.js';

const DIST = resolve(import.meta.dirname, '..');
const ROUNDS = 3;
export const ENGINE_TOKEN = 'bench-engine-token-0123456789abcdef';

export interface BenchIssuer {
  url: string;
  pid: number;
  requestToken: string;
  /** A token of the registered (running) execution, for introspection. */
  token: string;
  stop(): Promise<void>;
}

/** The real `wfid serve` (built), with one running execution registered. */
export async function startBenchIssuer(
  env: Record<string, string> = {},
  /** Lays down data in the data dir before the issuer starts (bench/soak.ts: a full store). */
  prepare?: (dataDir: string) => Promise<void>,
): Promise<BenchIssuer> {
  const dataDir = await mkdtemp(join(tmpdir(), 'wfid-bench-http-'));
  await prepare?.(dataDir);
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const child = spawn(process.execPath, [join(DIST, 'src/cli/main.js'), 'serve'], {
    cwd: dataDir,
    env: {
      ...process.env,
      WFID_ISSUER: url,
      WFID_PORT: String(port),
      WFID_DATA_DIR: dataDir,
      WFID_ENGINE_TOKEN: ENGINE_TOKEN,
      WFID_TOKENS_RATE_LIMIT: '0',
      WFID_LOG_LEVEL: 'warn',
      ...env,
    },
    stdio: 'ignore',
  });
  const stop = async () => {
    child.kill('SIGTERM');
    await new Promise((done) => child.once('exit', done));
    await rm(dataDir, { recursive: true, force: true });
  };
  try {
    await waitFor(`${url}/readyz`, child);
    const response = await fetch(`${url}/v1/executions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${ENGINE_TOKEN}`, 'content-type': 'application/json' },
      body: JSON.stringify({
        execution_id: `bench-${Date.now()}`,
        workflow_id: 'wf-bench',
        workflow_name: 'Nightly invoice sync',
        mode: 'trigger',
        environment: 'production',
      }),
    });
    const started = (await response.json()) as {
      request_token: string;
      env: { WORKFLOW_ID_TOKEN: string };
    };
    return {
      url,
      pid: child.pid!,
      requestToken: started.request_token,
      token: started.env.WORKFLOW_ID_TOKEN,
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}

export const mintRequest = (issuer: BenchIssuer) => ({
  url: `${issuer.url}/v1/token`,
  headers: { 'content-type': 'application/json', authorization: `Bearer ${issuer.requestToken}` },
  body: JSON.stringify({ audience: 'sts' }),
});

const introspectRequest = (issuer: BenchIssuer) => ({
  url: `${issuer.url}/v1/introspect`,
  headers: { 'content-type': 'application/x-www-form-urlencoded' },
  body: new URLSearchParams({ token: issuer.token }).toString(),
});

/** POST /v1/token of the issuer vs a bare Fastify route signing a same-size JWT, same run. */
export async function benchHttp(): Promise<Record<string, number>> {
  const issuer = await startBenchIssuer();
  const baselinePort = await freePort();
  const baseline = spawn(process.execPath, [join(DIST, 'bench/baseline-server.js')], {
    env: { ...process.env, PORT: String(baselinePort) },
    stdio: 'ignore',
  });
  try {
    await waitFor(`http://127.0.0.1:${baselinePort}/`, baseline);
    const baselineRequest = {
      url: `http://127.0.0.1:${baselinePort}/v1/token`,
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ audience: 'sts' }),
    };
    const rounds = {
      cpuRatio: [] as number[],
      wallRatio: [] as number[],
      ours: [] as number[],
      base: [] as number[],
    };
    const cpuUs = { ours: [] as number[], base: [] as number[] };
    const latency = { p50: [] as number[], p99: [] as number[] };
    await warmUp(baselineRequest);
    await warmUp(mintRequest(issuer));
    for (let i = 0; i < ROUNDS; i++) {
      const base = await measure(baseline.pid!, baselineRequest);
      const ours = await measure(issuer.pid, mintRequest(issuer));
      rounds.base.push(base.perWallSecond);
      rounds.ours.push(ours.perWallSecond);
      rounds.cpuRatio.push(ours.perCpuSecond / base.perCpuSecond);
      rounds.wallRatio.push(ours.perWallSecond / base.perWallSecond);
      cpuUs.ours.push(1e6 / ours.perCpuSecond);
      cpuUs.base.push(1e6 / base.perCpuSecond);
      latency.p50.push(ours.result.latencyMs.p50);
      latency.p99.push(ours.result.latencyMs.p99);
    }
    return {
      http_token_per_s: Math.round(median(rounds.ours)),
      http_baseline_per_s: Math.round(median(rounds.base)),
      http_token_vs_baseline: round(median(rounds.cpuRatio)),
      http_token_vs_baseline_wall: round(median(rounds.wallRatio)),
      http_token_cpu_us_per_request: round(median(cpuUs.ours), 1),
      http_baseline_cpu_us_per_request: round(median(cpuUs.base), 1),
      http_token_p50_ms: round(median(latency.p50), 2),
      http_token_p99_ms: round(median(latency.p99), 2),
      issuer_peak_rss_mb: round(await peakRssMb(issuer.pid), 1),
    };
  } finally {
    baseline.kill('SIGTERM');
    await issuer.stop();
  }
}

/**
 * Mint and introspection through the HTTP server with SQLite, PostgreSQL and Redis in the same
 * run: throughput (per wall second, 32 connections) and median latency, and what each shared
 * store adds per request compared with SQLite.
 */
export async function benchHttpStores(): Promise<Record<string, number>> {
  const peers = await startBenchStores();
  const figures: Record<string, number> = {};
  try {
    for (const kind of ['sqlite', 'postgres', 'redis'] as const) {
      const issuer = await startBenchIssuer({ WFID_STORE: peers.urls[kind] });
      try {
        for (const [operation, request] of [
          ['token', mintRequest(issuer)],
          ['introspect', introspectRequest(issuer)],
        ] as const) {
          const { result } = await measure(issuer.pid, request);
          figures[`http_${operation}_${kind}_per_s`] = Math.round(result.perSecond);
          figures[`http_${operation}_${kind}_p50_ms`] = round(result.latencyMs.p50, 2);
        }
      } finally {
        await issuer.stop();
      }
    }
    for (const kind of ['postgres', 'redis'] as const) {
      for (const operation of ['token', 'introspect']) {
        figures[`http_${operation}_${kind}_vs_sqlite`] = round(
          figures[`http_${operation}_${kind}_per_s`]! / figures[`http_${operation}_sqlite_per_s`]!,
        );
        figures[`http_${operation}_${kind}_added_p50_ms`] = round(
          figures[`http_${operation}_${kind}_p50_ms`]! -
            figures[`http_${operation}_sqlite_p50_ms`]!,
          2,
        );
      }
    }
    return figures;
  } finally {
    await peers.close();
  }
}
