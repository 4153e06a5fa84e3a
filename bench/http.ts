import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import autocannon from 'autocannon';
import { median, round } from './stats.js';
import { startBenchStores } from './stores.js';

const DIST = resolve(import.meta.dirname, '..');
const CONNECTIONS = 32;
const SECONDS = 4;
const ROUNDS = 3;
const ENGINE_TOKEN = 'bench-engine-token';

async function freePort(): Promise<number> {
  return new Promise((done) => {
    const server = createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => done(port));
    });
  });
}

async function waitFor(url: string, child: ChildProcess): Promise<void> {
  for (let i = 0; i < 300; i++) {
    if (child.exitCode !== null) throw new Error(`${url}: process exited ${child.exitCode}`);
    try {
      if ((await fetch(url)).status < 500) return;
    } catch {}
    await new Promise((done) => setTimeout(done, 100));
  }
  throw new Error(`${url} did not come up`);
}

/** CPU seconds a process has used (user + system), from /proc/<pid>/stat. */
async function cpuSeconds(pid: number): Promise<number> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS_PER_SECOND;
}

/** Linux's USER_HZ, the unit of /proc/<pid>/stat times (100 on every mainstream build). */
const CLOCK_TICKS_PER_SECOND = 100;

/** Peak resident set size of a process, from the kernel's high-water mark. */
async function peakRssMb(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  return Number(/VmHWM:\s+(\d+) kB/.exec(status)![1]) / 1024;
}

/**
 * Requests per CPU-second of the server under load, and per wall second. The load generator
 * shares this 2-core machine with the server (and with whatever else runs here), so wall
 * throughput swings with scheduling; CPU time per request is the cost of the code itself.
 */
async function measure(
  pid: number,
  request: { url: string; body: string; headers: Record<string, string> },
) {
  const before = await cpuSeconds(pid);
  const result = await autocannon({
    url: request.url,
    method: 'POST',
    connections: CONNECTIONS,
    duration: SECONDS,
    headers: request.headers,
    body: request.body,
  });
  const cpu = (await cpuSeconds(pid)) - before;
  if (result.non2xx > 0 || result.errors > 0) {
    throw new Error(`${request.url} answered ${result.non2xx} non-2xx, ${result.errors} errors`);
  }
  return {
    result,
    perWallSecond: result.requests.average,
    perCpuSecond: result.requests.total / cpu,
  };
}

interface BenchIssuer {
  url: string;
  pid: number;
  requestToken: string;
  /** A token of the registered (running) execution, for introspection. */
  token: string;
  stop(): Promise<void>;
}

/** The real `wfid serve` (built), with one running execution registered. */
async function startBenchIssuer(env: Record<string, string> = {}): Promise<BenchIssuer> {
  const dataDir = await mkdtemp(join(tmpdir(), 'wfid-bench-http-'));
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

const mintRequest = (issuer: BenchIssuer) => ({
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
    for (let i = 0; i < ROUNDS; i++) {
      const base = await measure(baseline.pid!, baselineRequest);
      const ours = await measure(issuer.pid, mintRequest(issuer));
      rounds.base.push(base.perWallSecond);
      rounds.ours.push(ours.perWallSecond);
      rounds.cpuRatio.push(ours.perCpuSecond / base.perCpuSecond);
      rounds.wallRatio.push(ours.perWallSecond / base.perWallSecond);
      cpuUs.ours.push(1e6 / ours.perCpuSecond);
      cpuUs.base.push(1e6 / base.perCpuSecond);
      latency.p50.push(ours.result.latency.p50);
      latency.p99.push(ours.result.latency.p99);
    }
    return {
      http_token_per_s: Math.round(median(rounds.ours)),
      http_baseline_per_s: Math.round(median(rounds.base)),
      http_token_vs_baseline: round(median(rounds.cpuRatio)),
      http_token_vs_baseline_wall: round(median(rounds.wallRatio)),
      http_token_cpu_us_per_request: round(median(cpuUs.ours), 1),
      http_baseline_cpu_us_per_request: round(median(cpuUs.base), 1),
      http_token_p50_ms: median(latency.p50),
      http_token_p99_ms: median(latency.p99),
      issuer_peak_rss_mb: round(await peakRssMb(issuer.pid), 1),
    };
  } finally {
    baseline.kill('SIGTERM');
    await issuer.stop();
  }
}

/**
 * Mint and introspection through the HTTP server with SQLite, PostgreSQL and Redis in the same
 * run: throughput (per wall second, 32 connections) and mean latency (autocannon's percentiles
 * are whole milliseconds), and what each shared store adds per request compared with SQLite.
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
          figures[`http_${operation}_${kind}_per_s`] = Math.round(result.requests.average);
          figures[`http_${operation}_${kind}_mean_ms`] = round(result.latency.average, 2);
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
        figures[`http_${operation}_${kind}_added_mean_ms`] = round(
          figures[`http_${operation}_${kind}_mean_ms`]! -
            figures[`http_${operation}_sqlite_mean_ms`]!,
          2,
        );
      }
    }
    return figures;
  } finally {
    await peers.close();
  }
}
