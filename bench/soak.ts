/**
 * `npm run bench -- --only soak` (not in the default run, not in CI): memory under a steady
 * mix. Every wrk connection loops register → mint → introspect → end, so the four calls share
 * the load evenly and every execution ends; the rate is held near 70% of the mix's peak with
 * wrk's delay(). The issuer's RSS is sampled every few seconds: after the warm-up (the first
 * fifth) it must stay within 10%. Any failed request (non-2xx, socket error) fails the run. Then the same mix against a store holding 1M ended
 * (retained) and 100k running executions, beside an empty one: RSS and p99 within 2x.
 * WFID_SOAK_SECONDS sets the soak's length (default 600).
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { SqliteStore } from '../src/executions/stores/sqlite.js';
import { ENGINE_TOKEN, startBenchIssuer } from './http.js';
import { type LoadShape, lua, measure } from './load.js';
import { round } from './stats.js';

const SOAK_SECONDS = Number(process.env.WFID_SOAK_SECONDS ?? 600);
const SAMPLE_MS = 5_000;
const CONNECTIONS = 16;
const SHAPE: LoadShape = { connections: CONNECTIONS, threadPerConnection: true };
const ENDED = 1_000_000;
const RUNNING = 100_000;

/** One connection per wrk thread, so each thread's Lua state follows its own sequence. */
function mixScript(delayMs: number): string {
  return `
local auth = ${lua(`Bearer ${ENGINE_TOKEN}`)}
local threads = 0
function setup(thread) threads = threads + 1; thread:set("tid", threads) end
-- The phase advances on an answer only: wrk may build a request it does not send (the first of
-- a thread), and the next one must then be of the same kind.
local after = { register = "mint", mint = "introspect", introspect = "end", ["end"] = "register" }
local phase, n, id, rt, jwt = "register", 0, "none", "none", "none"
local json = { ["content-type"] = "application/json" }
local engine = { ["content-type"] = "application/json", authorization = auth }
function request()
  if phase == "register" then
    n = n + 1
    id = "soak-" .. tid .. "-" .. os.time() .. "-" .. n
    return wrk.format("POST", "/v1/executions", engine,
      '{"execution_id":"' .. id .. '","workflow_id":"wf-soak","workflow_name":"Nightly invoice sync","mode":"trigger"}')
  elseif phase == "mint" then
    return wrk.format("POST", "/v1/token", { ["content-type"] = "application/json", authorization = "Bearer " .. rt },
      '{"audience":"sts"}')
  elseif phase == "introspect" then
    return wrk.format("POST", "/v1/introspect", json, '{"token":"' .. jwt .. '"}')
  else
    return wrk.format("POST", "/v1/executions/" .. id .. "/end", engine, '{"status":"success"}')
  end
end
function response(status, headers, body)
  if status >= 300 then return end
  if phase == "register" then rt = body:match('"request_token":"([^"]+)"') or "none"
  elseif phase == "mint" then jwt = body:match('"value":"([^"]+)"') or "none" end
  phase = after[phase]
end
function delay() return ${Math.max(0, Math.round(delayMs))} end
`;
}

async function rssMb(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+) kB/.exec(status)![1]) / 1024;
}

/** Runs the mix for `seconds` at `delayMs` per request and connection, sampling RSS. */
async function runMix(
  issuer: Awaited<ReturnType<typeof startBenchIssuer>>,
  seconds: number,
  delayMs: number,
) {
  const samples: number[] = [];
  const timer = setInterval(() => void rssMb(issuer.pid).then((mb) => samples.push(mb)), SAMPLE_MS);
  try {
    const run = await measure(
      issuer.pid,
      { url: issuer.url, headers: {}, script: mixScript(delayMs) },
      { ...SHAPE, seconds },
    );
    return { ...run, samples };
  } finally {
    clearInterval(timer);
  }
}

/** A store as a busy issuer leaves it: 1M ended executions within retention, 100k running. */
async function fillStore(dataDir: string): Promise<void> {
  const path = join(dataDir, 'wfid.db');
  await new SqliteStore(path).close(); // the schema, as the issuer lays it down
  const db = new Database(path);
  const now = Date.now();
  const metadata = JSON.stringify({
    workflowName: 'Nightly invoice sync',
    mode: 'trigger',
    claims: {},
  });
  db.transaction(() => {
    for (const [status, count, endedAt] of [
      ['success', ENDED, now],
      ['running', RUNNING, null],
    ] as const) {
      db.prepare(
        `WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ?)
         INSERT INTO executions (engine, execution_id, workflow_id, metadata, status, started_at,
           deadline, ended_at)
         SELECT 'default', ? || i, 'wf-fill', ?, ?, ?, ?, ? FROM n`,
      ).run(count, `fill-${status}-`, metadata, status, now, now + 3_600_000, endedAt);
      db.prepare(
        `INSERT INTO request_tokens (token_id, engine, execution_id, secret_hash)
         SELECT 't-' || execution_id, engine, execution_id, randomblob(32) FROM executions
         WHERE execution_id LIKE ?`,
      ).run(`fill-${status}-%`);
    }
  })();
  db.close();
}

export async function benchSoak(): Promise<Record<string, number>> {
  const figures: Record<string, number> = {};
  // Peak of the mix, then the soak near 70% of it.
  const issuer = await startBenchIssuer();
  let delayMs: number;
  try {
    const peak = await runMix(issuer, 10, 0);
    // Each connection waits so that together they send 70% of the peak rate.
    const cycleMs = (1000 * CONNECTIONS) / peak.perWallSecond;
    delayMs = cycleMs / 0.7 - cycleMs;
    process.stderr.write(
      `soak: peak ${Math.round(peak.perWallSecond)}/s, ${SOAK_SECONDS} s at delay ${round(delayMs, 1)} ms\n`,
    );
    const soak = await runMix(issuer, SOAK_SECONDS, delayMs);
    const settled = soak.samples.slice(Math.ceil(soak.samples.length / 5));
    const first = settled[0]!;
    figures.soak_seconds = SOAK_SECONDS;
    figures.soak_mix_peak_per_s = Math.round(peak.perWallSecond);
    figures.soak_per_s = Math.round(soak.perWallSecond);
    figures.soak_vs_peak = round(soak.perWallSecond / peak.perWallSecond);
    figures.soak_rss_after_warmup_mb = round(first, 1);
    figures.soak_rss_end_mb = round(settled.at(-1)!, 1);
    figures.soak_rss_growth_pct = round((100 * (Math.max(...settled) - first)) / first, 1);
    figures.soak_p99_ms = round(soak.result.latencyMs.p99, 1);
  } finally {
    await issuer.stop();
  }
  // Empty store beside a full one: the same mix, same rate, a minute each.
  for (const [name, prepare] of [
    ['empty', undefined],
    ['full', fillStore],
  ] as const) {
    const started = Date.now();
    const store = await startBenchIssuer({}, prepare);
    if (name === 'full') figures.full_store_start_s = round((Date.now() - started) / 1000, 1);
    try {
      const run = await runMix(store, 60, delayMs);
      figures[`${name}_store_rss_mb`] = round(Math.max(...run.samples), 1);
      figures[`${name}_store_p99_ms`] = round(run.result.latencyMs.p99, 1);
    } finally {
      await store.stop();
    }
  }
  figures.full_vs_empty_rss = round(figures.full_store_rss_mb! / figures.empty_store_rss_mb!);
  figures.full_vs_empty_p99 = round(figures.full_store_p99_ms! / figures.empty_store_p99_ms!);
  return figures;
}
