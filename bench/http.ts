import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import autocannon from 'autocannon';
import { median, round } from './stats.js';

const DIST = resolve(import.meta.dirname, '..');
const CONNECTIONS = 32;
const SECONDS = 4;
const ROUNDS = 3;

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

/**
 * Requests per CPU-second of the server under load, and per wall second. The load generator
 * shares this 2-core machine with both servers (and with whatever else runs here), so wall
 * throughput swings with scheduling; CPU time per request is the cost of the code itself.
 */
async function measure(pid: number, run: () => Promise<autocannon.Result>) {
  const before = await cpuSeconds(pid);
  const result = await run();
  const cpu = (await cpuSeconds(pid)) - before;
  return { result, perWallSecond: result.requests.average, perCpuSecond: result.requests.total / cpu };
}

/** Peak resident set size of a process, from the kernel's high-water mark. */
async function peakRssMb(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  return Number(/VmHWM:\s+(\d+) kB/.exec(status)![1]) / 1024;
}

function load(url: string, authorization?: string) {
  return autocannon({
    url,
    method: 'POST',
    connections: CONNECTIONS,
    duration: SECONDS,
    headers: { 'content-type': 'application/json', ...(authorization ? { authorization } : {}) },
    body: JSON.stringify({ audience: 'sts' }),
  });
}

/** POST /v1/token throughput of the issuer vs a bare Fastify signing route, same run. */
export async function benchHttp(): Promise<Record<string, number>> {
  const dataDir = await mkdtemp(join(tmpdir(), 'wfid-bench-http-'));
  const issuerPort = await freePort();
  const baselinePort = await freePort();
  const issuerUrl = `http://127.0.0.1:${issuerPort}`;
  const issuer = spawn(process.execPath, [join(DIST, 'src/cli/main.js'), 'serve'], {
    cwd: dataDir,
    env: {
      ...process.env,
      WFID_ISSUER: issuerUrl,
      WFID_PORT: String(issuerPort),
      WFID_DATA_DIR: dataDir,
      WFID_ENGINE_TOKEN: 'bench-engine-token',
      WFID_TOKENS_RATE_LIMIT: '0',
      WFID_LOG_LEVEL: 'warn',
    },
    stdio: 'ignore',
  });
  const baseline = spawn(process.execPath, [join(DIST, 'bench/baseline-server.js')], {
    env: { ...process.env, PORT: String(baselinePort) },
    stdio: 'ignore',
  });
  try {
    await waitFor(`${issuerUrl}/readyz`, issuer);
    await waitFor(`http://127.0.0.1:${baselinePort}/`, baseline);
    const started = await fetch(`${issuerUrl}/v1/executions`, {
      method: 'POST',
      headers: { authorization: 'Bearer bench-engine-token', 'content-type': 'application/json' },
      body: JSON.stringify({
        execution_id: 'bench-1',
        workflow_id: 'wf-bench',
        workflow_name: 'Nightly invoice sync',
        mode: 'trigger',
        environment: 'production',
      }),
    });
    const { request_token } = (await started.json()) as { request_token: string };
    const cpuRatios: number[] = [];
    const issuerCpuUs: number[] = [];
    const baselineCpuUs: number[] = [];
    const wallRatios: number[] = [];
    const issuerRates: number[] = [];
    const baselineRates: number[] = [];
    const p50: number[] = [];
    const p99: number[] = [];
    for (let i = 0; i < ROUNDS; i++) {
      const base = await measure(baseline.pid!, () => load(`http://127.0.0.1:${baselinePort}/v1/token`));
      const ours = await measure(issuer.pid!, () => load(`${issuerUrl}/v1/token`, `Bearer ${request_token}`));
      if (ours.result.non2xx > 0 || ours.result.errors > 0) {
        throw new Error(`issuer answered ${ours.result.non2xx} non-2xx, ${ours.result.errors} errors`);
      }
      baselineRates.push(base.perWallSecond);
      issuerRates.push(ours.perWallSecond);
      cpuRatios.push(ours.perCpuSecond / base.perCpuSecond);
      issuerCpuUs.push(1e6 / ours.perCpuSecond);
      baselineCpuUs.push(1e6 / base.perCpuSecond);
      wallRatios.push(ours.perWallSecond / base.perWallSecond);
      p50.push(ours.result.latency.p50);
      p99.push(ours.result.latency.p99);
    }
    return {
      http_token_per_s: Math.round(median(issuerRates)),
      http_baseline_per_s: Math.round(median(baselineRates)),
      http_token_vs_baseline: round(median(cpuRatios)),
      http_token_vs_baseline_wall: round(median(wallRatios)),
      http_token_cpu_us_per_request: round(median(issuerCpuUs), 1),
      http_baseline_cpu_us_per_request: round(median(baselineCpuUs), 1),
      http_token_p50_ms: median(p50),
      http_token_p99_ms: median(p99),
      issuer_peak_rss_mb: round(await peakRssMb(issuer.pid!), 1),
    };
  } finally {
    issuer.kill('SIGTERM');
    baseline.kill('SIGTERM');
    await rm(dataDir, { recursive: true, force: true });
  }
}
