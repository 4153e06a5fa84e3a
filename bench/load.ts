/** Processes under load: ports, readiness, CPU and memory from /proc, and one wrk run. */
import { type ChildProcess, execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { freePort } from '../test/peers/net.js';

export { freePort };

const run = promisify(execFile);

export const CONNECTIONS = 32;
const THREADS = 2;
const SECONDS = 4;
/** A request slower than this counts as failed (wrk's default of 2 s is too short for fsync-bound runs). */
const TIMEOUT_SECONDS = 10;

export interface LoadRequest {
  url: string;
  method?: 'GET' | 'POST';
  body?: string;
  headers: Record<string, string>;
  /**
   * A body made fresh for every request: a JSON template in which `{n}` becomes a number unique
   * across wrk's threads (a new execution id per registration).
   */
  uniqueBody?: string;
  /** A whole wrk Lua script instead (bench/soak.ts: a sequence of requests per connection). */
  script?: string;
}

/** How wrk runs: the defaults are the throughput runs every ratio uses. */
export interface LoadShape {
  seconds?: number;
  /** Connections, each on its own wrk thread when `threadPerConnection`. */
  connections?: number;
  threadPerConnection?: boolean;
}

export async function waitFor(url: string, child: ChildProcess): Promise<void> {
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
export async function cpuSeconds(pid: number): Promise<number> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS_PER_SECOND;
}

/** Linux's USER_HZ, the unit of /proc/<pid>/stat times (100 on every mainstream build). */
const CLOCK_TICKS_PER_SECOND = 100;

/** Peak resident set size of a process, from the kernel's high-water mark. */
export async function peakRssMb(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  return Number(/VmHWM:\s+(\d+) kB/.exec(status)![1]) / 1024;
}

/** Seconds of load before the measured rounds: a freshly started server runs unoptimised code. */
const WARM_UP_SECONDS = 2;

/**
 * Load a server takes before it is measured, the same for the baseline and the issuer: the
 * first second of each otherwise ran in the JIT's baseline tiers and set the round's p99.
 */
export async function warmUp(request: LoadRequest): Promise<void> {
  await wrk(request, { seconds: WARM_UP_SECONDS });
}

/**
 * Requests per CPU-second of the server under load, and per wall second. The load generator
 * shares this 2-core machine with the server (and with whatever else runs here), so wall
 * throughput swings with scheduling; CPU time per request is the cost of the code itself.
 */
export async function measure(pid: number, request: LoadRequest, shape: LoadShape = {}) {
  const before = await cpuSeconds(pid);
  const result = await wrk(request, shape);
  const cpu = (await cpuSeconds(pid)) - before;
  if (result.failed > 0) {
    throw new Error(
      `${request.url}: ${result.failed} of ${result.requests} requests failed\n${result.output}`,
    );
  }
  return {
    result,
    perWallSecond: result.perSecond,
    perCpuSecond: result.requests / cpu,
  };
}

export interface WrkResult {
  requests: number;
  perSecond: number;
  /** Non-2xx/3xx answers and socket errors. */
  failed: number;
  latencyMs: { p50: number; p99: number };
  /** wrk's own report, for failures. */
  output: string;
}

/** One wrk run: the request is described by a Lua script written to a temp dir. */
async function wrk(request: LoadRequest, shape: LoadShape): Promise<WrkResult> {
  const dir = await mkdtemp(join(tmpdir(), 'wfid-bench-wrk-'));
  const connections = shape.connections ?? CONNECTIONS;
  try {
    const script = join(dir, 'request.lua');
    await writeFile(script, request.script ?? luaScript(request));
    const { stdout } = await run(
      'wrk',
      [
        `-t${shape.threadPerConnection ? connections : THREADS}`,
        `-c${connections}`,
        `-d${shape.seconds ?? SECONDS}s`,
        `--timeout=${TIMEOUT_SECONDS}s`,
        '--latency',
        '-s',
        script,
        request.url,
      ],
      { maxBuffer: 1 << 20, timeout: ((shape.seconds ?? SECONDS) + 60) * 1000 },
    );
    return parseWrk(stdout);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

function luaScript(request: LoadRequest): string {
  const lines = [`wrk.method = ${lua(request.method ?? 'POST')}`];
  for (const [name, value] of Object.entries(request.headers)) {
    lines.push(`wrk.headers[ ${lua(name)} ] = ${lua(value)}`); // spaces: `[[` opens a Lua string
  }
  if (request.body !== undefined) lines.push(`wrk.body = ${lua(request.body)}`);
  if (request.uniqueBody !== undefined) {
    // setup() runs once per thread in the main state; each thread numbers its own requests.
    const [head, tail] = request.uniqueBody.split('{n}');
    lines.push(
      'local threads = 0',
      'function setup(thread) threads = threads + 1; thread:set("tid", threads) end',
      'local n = 0',
      'function request()',
      '  n = n + 1',
      `  return wrk.format(nil, nil, nil, ${lua(head!)} .. tid .. "-" .. n .. ${lua(tail ?? '')})`,
      'end',
    );
  }
  return `${lines.join('\n')}\n`;
}

/** A Lua long-bracket string: no escapes to get wrong, whatever the value holds. */
export function lua(value: string): string {
  let level = '';
  while (value.includes(`]${level}]`)) level += '=';
  return `[${level}[${value}]${level}]`;
}

function parseWrk(output: string): WrkResult {
  const number = (pattern: RegExp) => Number(pattern.exec(output)?.[1] ?? Number.NaN);
  const requests = number(/(\d+) requests in/);
  const perSecond = number(/Requests\/sec:\s+([\d.]+)/);
  const non2xx = number(/Non-2xx or 3xx responses: (\d+)/) || 0;
  const socket = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(
    output,
  );
  const socketErrors = socket ? socket.slice(1).reduce((sum, count) => sum + Number(count), 0) : 0;
  if (!Number.isFinite(requests) || !Number.isFinite(perSecond)) {
    throw new Error(`wrk: unexpected output\n${output}`);
  }
  return {
    requests,
    perSecond,
    failed: non2xx + socketErrors,
    latencyMs: { p50: percentileMs(output, '50'), p99: percentileMs(output, '99') },
    output,
  };
}

/** A line of wrk's "Latency Distribution", such as "99%   12.34ms", in milliseconds. */
function percentileMs(output: string, percentile: string): number {
  const match = new RegExp(`^\\s*${percentile}%\\s+([\\d.]+)(us|ms|s)\\s*$`, 'm').exec(output);
  if (!match) throw new Error(`wrk: no ${percentile}% latency in\n${output}`);
  const scale = { us: 0.001, ms: 1, s: 1000 }[match[2] as 'us' | 'ms' | 's'];
  return Number(match[1]) * scale;
}
