/**
 * n8n in queue mode, as n8n requires it: a main, a worker and a webhook processor sharing a
 * real PostgreSQL (n8n's database, and the issuer's store) and a real Redis (Bull). Each
 * process reaches the issuer through its own relay, so the test sees who called the issuer:
 * the worker registers, ends, pauses and resumes each execution; the main and the webhook
 * processor, which only enqueue jobs, never register anything.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createRemoteJWKSet, jwtVerify } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningIssuer, startIssuer, until } from '../e2e/harness.js';
import { type IssuerRelay, startIssuerRelay } from '../peers/issuer-relay.js';
import { buildIntegration, type RunningN8n, startN8n } from '../peers/n8n.js';
import { type PostgresPeer, startPostgres } from '../peers/postgres.js';
import { type RedisPeer, startRedis } from '../peers/redis.js';
import { chain, idsNode, tokenNode, waitingWorkflow, webhook } from './workflows.js';

const AUDIENCE = 'wfid-n8n-queue';
const PROCESSES = ['main', 'worker', 'webhook'] as const;
type Process = (typeof PROCESSES)[number];

const tokenWorkflow = {
  id: 'wfidQueueToken01',
  name: 'Queue token',
  settings: { executionOrder: 'v1' },
  nodes: [webhook('wfid-queue-token'), tokenNode(AUDIENCE), idsNode],
  connections: chain('Webhook', 'Token', 'Ids'),
};
const waitWorkflow = waitingWorkflow('wfidQueueWait001', AUDIENCE);

let pg: PostgresPeer;
let redis: RedisPeer;
let issuer: RunningIssuer;
const relays = {} as Record<Process, IssuerRelay>;
const n8n = {} as Record<Process, RunningN8n>;
let jwks: ReturnType<typeof createRemoteJWKSet>;

beforeAll(async () => {
  await buildIntegration();
  pg = await startPostgres();
  redis = await startRedis();
  issuer = await startIssuer({ env: { WFID_STORE: pg.url } });
  jwks = createRemoteJWKSet(new URL(`${issuer.url}/.well-known/jwks.json`));
  for (const name of PROCESSES) relays[name] = await startIssuerRelay(issuer.url);
  const shared = {
    EXECUTIONS_MODE: 'queue',
    DB_TYPE: 'postgresdb',
    DB_POSTGRESDB_HOST: '127.0.0.1',
    DB_POSTGRESDB_PORT: String(pg.port),
    DB_POSTGRESDB_DATABASE: 'wfid',
    DB_POSTGRESDB_USER: 'postgres',
    QUEUE_BULL_REDIS_HOST: '127.0.0.1',
    QUEUE_BULL_REDIS_PORT: String(redis.port),
    N8N_WORKER_SERVER_ADDRESS: '127.0.0.1',
    N8N_ENCRYPTION_KEY: 'wfid-queue-test-encryption-key',
    WFID_ENGINE_TOKEN: issuer.engineToken,
  };
  // Each process its own relay, and its own `instance` claim, to tell who registered.
  const envOf = (name: Process) => ({
    ...shared,
    WFID_ISSUER_URL: relays[name].url,
    WFID_N8N_INSTANCE: `queue-${name}`,
  });
  n8n.main = await startN8n({
    env: envOf('main'),
    prepare: async (cli, userFolder) => {
      for (const workflow of [tokenWorkflow, waitWorkflow]) {
        const file = join(userFolder, `${workflow.id}.json`);
        await writeFile(file, JSON.stringify(workflow));
        await cli('import:workflow', `--input=${file}`);
        await cli('publish:workflow', `--id=${workflow.id}`);
      }
    },
  });
  const [worker, webhookProcessor] = await Promise.all([
    startN8n({ env: envOf('worker'), command: 'worker', userFolder: n8n.main.userFolder }),
    startN8n({ env: envOf('webhook'), command: 'webhook', userFolder: n8n.main.userFolder }),
  ]);
  n8n.worker = worker;
  n8n.webhook = webhookProcessor;
}, 400_000);

afterAll(async () => {
  for (const name of ['webhook', 'worker', 'main'] as const) await n8n[name]?.stop();
  for (const relay of Object.values(relays)) await relay.close();
  await issuer?.stop();
  await redis?.close();
  await pg?.close();
});

const logs = () =>
  PROCESSES.map((name) => `--- ${name}\n${n8n[name]?.logs().slice(-3000)}`).join('\n');

describe('n8n in queue mode (main, worker, webhook processor; PostgreSQL and Redis)', () => {
  it('registers and ends each execution on the worker that runs it, never on main or the webhook processor', async () => {
    const url = `${n8n.webhook.url}/webhook/wfid-queue-token`;
    await until(async () => (await fetch(url).catch(() => undefined))?.status === 200, 60_000);
    const response = await fetch(url);
    expect(response.status, logs()).toBe(200);
    const item = (await response.json()) as Record<string, string>;
    const { payload } = await jwtVerify(item.token!, jwks, { audience: AUDIENCE });
    expect(payload).toMatchObject({
      execution_id: item.n8n_execution_id,
      workflow_id: tokenWorkflow.id,
      published: true,
      mode: 'webhook',
      instance: 'queue-worker',
    });
    const ended = await waitForStatus(item.n8n_execution_id!, (status) => status !== 'running');
    expect(ended.status).toBe('success');
    expect(relays.worker.seen).toContain(`POST /v1/executions/${item.n8n_execution_id}/end`);
    // main and the webhook processor only enqueued jobs: they never called the issuer.
    expect(relays.main.seen).toEqual([]);
    expect(relays.webhook.seen).toEqual([]);
  }, 120_000);

  it('pauses a waiting execution and resumes it where a worker picks it up again', async () => {
    const response = await fetch(`${n8n.webhook.url}/webhook/wfid-wait-${waitWorkflow.id}`);
    expect(response.status, logs()).toBe(200);
    const before = (await response.json()) as Record<string, string>;
    const executionId = before.n8n_execution_id!;
    await waitForStatus(executionId, (status) => status === 'waiting');
    expect(relays.worker.seen).toContain(`POST /v1/executions/${executionId}/wait`);

    // The resume URL names main; the webhook processor serves /webhook-waiting too.
    const resumeUrl = new URL(before.resume_url!);
    const resumed = await fetch(`${n8n.webhook.url}${resumeUrl.pathname}${resumeUrl.search}`);
    expect(resumed.status, logs()).toBe(200);
    const after = (await resumed.json()) as Record<string, string>;
    const { payload } = await jwtVerify(after.token_after!, jwks, { audience: AUDIENCE });
    expect(payload).toMatchObject({ execution_id: executionId, instance: 'queue-worker' });
    expect(relays.worker.seen).toContain(`POST /v1/executions/${executionId}/resume`);
    const ended = await waitForStatus(executionId, (status) => status !== 'running');
    expect(ended.status).toBe('success');
    expect(relays.main.seen).toEqual([]);
    expect(relays.webhook.seen).toEqual([]);
  }, 120_000);

  it('leaves out workflow.postExecute, so main does not load every job’s full execution data', () => {
    expect(n8n.main.logs()).toContain('workflow-identity: ending executions where they run');
    expect(n8n.main.logs()).not.toContain('no lifecycle handlers');
  });

  it('never writes a token or the engine token to any n8n log', () => {
    for (const name of PROCESSES) {
      expect(n8n[name].logs()).not.toContain(issuer.engineToken);
      expect(n8n[name].logs()).not.toMatch(/eyJ[\w-]+\.eyJ[\w-]+\./);
    }
  });
});

async function waitForStatus(executionId: string, done: (status: string) => boolean) {
  let body = { status: '' };
  try {
    await until(async () => {
      const response = await issuer.fetch(`/v1/executions/${executionId}`, {
        headers: { authorization: `Bearer ${issuer.engineToken}` },
      });
      body = (await response.json()) as typeof body;
      return response.ok && done(body.status);
    }, 30_000);
  } catch {
    throw new Error(`execution ${executionId}: ${JSON.stringify(body)}\n${logs()}`);
  }
  return body;
}
