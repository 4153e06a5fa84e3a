/**
 * A real n8n in regular mode, run as in production: an execution paused by a Wait node keeps
 * its identity across the pause (waiting at the issuer meanwhile, deadline counted from the
 * resume), and a hanging issuer does not hold up an execution's start beyond the hooks'
 * budget (registration then completes at the first token request).
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createRemoteJWKSet, jwtVerify } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningIssuer, startIssuer, until } from '../e2e/harness.js';
import { type IssuerRelay, startIssuerRelay } from '../peers/issuer-relay.js';
import { buildIntegration, type RunningN8n, startN8n } from '../peers/n8n.js';
import { chain, idsNode, tokenNode, waitingWorkflow, webhook } from './workflows.js';

const AUDIENCE = 'wfid-n8n-prod';
/** Short, so the test can outwait the first deadline before resuming. */
const MAX_DURATION_S = 8;

const waitWorkflow = waitingWorkflow('wfidWaitDemo0001', AUDIENCE);

/** Asks for no token: shows that a start never waits long for the issuer. */
const plainWorkflow = {
  id: 'wfidPlainDemo001',
  name: 'No token',
  settings: { executionOrder: 'v1' },
  nodes: [webhook('wfid-plain'), idsNode],
  connections: chain('Webhook', 'Ids'),
};

const tokenWorkflow = {
  id: 'wfidSlowDemo0001',
  name: 'Token with a slow issuer',
  settings: { executionOrder: 'v1' },
  nodes: [webhook('wfid-slow'), tokenNode(AUDIENCE), idsNode],
  connections: chain('Webhook', 'Token', 'Ids'),
};

const WORKFLOWS = [waitWorkflow, plainWorkflow, tokenWorkflow];

let issuer: RunningIssuer;
let relay: IssuerRelay;
let n8n: RunningN8n;
let jwks: ReturnType<typeof createRemoteJWKSet>;

beforeAll(async () => {
  await buildIntegration();
  issuer = await startIssuer();
  jwks = createRemoteJWKSet(new URL(`${issuer.url}/.well-known/jwks.json`));
  relay = await startIssuerRelay(issuer.url);
  n8n = await startN8n({
    env: {
      WFID_ISSUER_URL: relay.url,
      WFID_ENGINE_TOKEN: issuer.engineToken,
      WFID_N8N_MAX_DURATION_S: String(MAX_DURATION_S),
    },
    prepare: async (cli, userFolder) => {
      for (const workflow of WORKFLOWS) {
        const file = join(userFolder, `${workflow.id}.json`);
        await writeFile(file, JSON.stringify(workflow));
        await cli('import:workflow', `--input=${file}`);
        await cli('publish:workflow', `--id=${workflow.id}`);
      }
    },
  });
  await waitForWebhook(`${n8n.url}/webhook/wfid-plain`);
}, 300_000);

afterAll(async () => {
  await n8n?.stop();
  await relay?.close();
  await issuer?.stop();
});

describe('n8n in production: waits', () => {
  it('pauses an execution at the issuer while a Wait node holds it and resumes it with a fresh deadline', async () => {
    const response = await fetch(`${n8n.url}/webhook/wfid-wait-${waitWorkflow.id}`);
    expect(response.status, n8n.logs().slice(-4000)).toBe(200);
    const before = (await response.json()) as Record<string, string>;
    const executionId = before.n8n_execution_id!;
    const { payload } = await jwtVerify(before.token!, jwks, { audience: AUDIENCE });
    expect(payload.execution_id).toBe(executionId);

    const paused = await waitForStatus(executionId, (status) => status === 'waiting');
    // While it waits, its deadline is the wait's (executions.max_wait).
    expect(Date.parse(paused.deadline)).toBeGreaterThan(Date.now() + 86_400_000);
    // Outwait the deadline the execution had when it paused (the first token's exp is capped
    // by it): waiting does not count.
    const firstDeadline = payload.exp! * 1000 + 1000;
    await until(async () => Date.now() > firstDeadline + 500, (MAX_DURATION_S + 5) * 1000);
    expect(await introspect(before.token!)).toEqual({ active: false });

    const resumedAt = Date.now();
    const resumed = await fetch(before.resume_url!);
    expect(resumed.status, n8n.logs().slice(-4000)).toBe(200);
    const after = (await resumed.json()) as Record<string, string>;
    expect(after.n8n_execution_id).toBe(executionId);
    const verified = await jwtVerify(after.token_after!, jwks, { audience: AUDIENCE });
    expect(verified.payload).toMatchObject({
      execution_id: executionId,
      workflow_id: waitWorkflow.id,
      published: true,
    });
    // Its lifetime is capped by the deadline counted from the resume, not from the start.
    expect(verified.payload.exp! * 1000).toBeGreaterThan(firstDeadline);
    expect(verified.payload.exp! * 1000).toBeGreaterThanOrEqual(resumedAt - 1000);

    const ended = await waitForStatus(executionId, (status) => status !== 'running');
    expect(ended.status).toBe('success');
    expect(await introspect(after.token_after!)).toEqual({ active: false });
  }, 60_000);
});

describe('n8n in production: a hanging issuer', () => {
  it('does not hold up the start of an execution beyond the budget', async () => {
    const baselineStarted = Date.now();
    expect((await fetch(`${n8n.url}/webhook/wfid-plain`)).status).toBe(200);
    console.log(`start with a live issuer: webhook answered in ${Date.now() - baselineStarted} ms`);
    relay.mode = 'hang';
    try {
      const started = Date.now();
      const response = await fetch(`${n8n.url}/webhook/wfid-plain`);
      const elapsedMs = Date.now() - started;
      expect(response.status, n8n.logs().slice(-4000)).toBe(200);
      const item = (await response.json()) as Record<string, string>;
      // The registration went out and is still unanswered: the run did not wait for it.
      const registration = relay.held.find((held) => held.path === '/v1/executions');
      expect(registration?.open).toBe(true);
      console.log(`start with a hanging issuer: webhook answered in ${elapsedMs} ms`);
      expect(item.n8n_workflow_id).toBe(plainWorkflow.id);
    } finally {
      relay.mode = 'pass';
      relay.release();
      relay.held.length = 0;
    }
  }, 60_000);

  it('registers at the first token request once the issuer answers again', async () => {
    relay.mode = 'hang';
    const pending = fetch(`${n8n.url}/webhook/wfid-slow`);
    try {
      await until(async () => relay.held.some((held) => held.path === '/v1/executions'));
    } finally {
      // The issuer comes back: the held registration is cut, the hooks' client retries.
      relay.mode = 'pass';
      relay.release();
    }
    const response = await pending;
    expect(response.status, n8n.logs().slice(-4000)).toBe(200);
    const item = (await response.json()) as Record<string, string>;
    expect(item.error).toBeUndefined();
    const { payload } = await jwtVerify(item.token!, jwks, { audience: AUDIENCE });
    expect(payload).toMatchObject({
      execution_id: item.n8n_execution_id,
      workflow_id: tokenWorkflow.id,
    });
    relay.held.length = 0;
  }, 60_000);

  it('never writes a token or the engine token to n8n logs', () => {
    expect(n8n.logs()).not.toContain(issuer.engineToken);
    expect(n8n.logs()).not.toMatch(/eyJ[\w-]+\.eyJ[\w-]+\./);
  });
});

async function introspect(token: string) {
  const response = await issuer.fetch('/v1/introspect', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ token }),
  });
  return (await response.json()) as { active: boolean };
}

async function waitForStatus(executionId: string, done: (status: string) => boolean) {
  let body = { status: '', deadline: '' };
  try {
    await until(async () => {
      const response = await issuer.fetch(`/v1/executions/${executionId}`, {
        headers: { authorization: `Bearer ${issuer.engineToken}` },
      });
      body = (await response.json()) as typeof body;
      return response.ok && done(body.status);
    }, 30_000);
  } catch {
    throw new Error(
      `execution ${executionId}: ${JSON.stringify(body)}\n${n8n.logs().slice(-4000)}`,
    );
  }
  return body;
}

async function waitForWebhook(url: string) {
  await until(async () => {
    const response = await fetch(url).catch(() => undefined);
    return response !== undefined && response.status !== 404;
  }, 30_000);
}
