/**
 * A real n8n runs real workflows with our hooks file and node against a real issuer:
 * the token a workflow gets verifies through our JWKS with n8n's ids, and ends with the
 * execution (introspection inactive, request token refused, failing runs end as `error`).
 */
import { join } from 'node:path';
import { createRemoteJWKSet, jwtVerify } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningIssuer, startIssuer } from '../e2e/harness.js';
import { buildIntegration, type RunningN8n, startN8n } from '../peers/n8n.js';

const FIXTURES = join(import.meta.dirname, '../fixtures/n8n');
const TOKEN_WORKFLOW = { id: 'wfidTokenDemo001', name: 'Identity token demo' };
const FAILING_WORKFLOW = { id: 'wfidFailDemo0001' };
const AUDIENCE = 'wfid-n8n-test';

let issuer: RunningIssuer;
let n8n: RunningN8n;
const timings: Record<string, number> = {};

beforeAll(async () => {
  let started = Date.now();
  await buildIntegration();
  timings.buildMs = Date.now() - started;
  issuer = await startIssuer();
  started = Date.now();
  n8n = await startN8n({
    env: {
      WFID_ISSUER_URL: issuer.url,
      WFID_ENGINE_TOKEN: issuer.engineToken,
      WFID_N8N_ENVIRONMENT: 'test',
      // The fixture's node returns its request credentials (to show they die with the execution).
      WFID_N8N_REQUEST_CREDENTIALS_IN_OUTPUT: 'true',
    },
    prepare: async (cli) => {
      for (const file of ['token-workflow.json', 'failing-workflow.json']) {
        await cli('import:workflow', `--input=${join(FIXTURES, file)}`);
      }
      for (const id of [TOKEN_WORKFLOW.id, FAILING_WORKFLOW.id])
        await cli('publish:workflow', `--id=${id}`);
    },
  });
  timings.n8nStartMs = Date.now() - started;
  await waitForWebhook(`${n8n.url}/webhook/wfid-token`);
}, 300_000);

afterAll(async () => {
  console.log(`n8n test timings: ${JSON.stringify(timings)}`);
  await n8n?.stop();
  await issuer?.stop();
});

describe('n8n with the workflow-identity hooks and node', () => {
  it('gives a webhook execution a token that verifies through the JWKS with n8n ids, dead once the execution ends', async () => {
    const started = Date.now();
    const response = await fetch(`${n8n.url}/webhook/wfid-token`);
    timings.webhookRunMs = Date.now() - started;
    expect(response.status, n8n.logs().slice(-4000)).toBe(200);
    const item = (await response.json()) as Record<string, string>;
    expect(item.n8n_workflow_id).toBe(TOKEN_WORKFLOW.id);

    const jwks = createRemoteJWKSet(new URL(`${issuer.url}/.well-known/jwks.json`));
    const { payload } = await jwtVerify(item.token!, jwks, {
      issuer: issuer.url,
      audience: AUDIENCE,
    });
    expect(payload).toMatchObject({
      workflow_id: TOKEN_WORKFLOW.id,
      workflow_name: TOKEN_WORKFLOW.name,
      execution_id: item.n8n_execution_id,
      mode: 'webhook',
      environment: 'test',
      trigger: 'n8n-nodes-base.webhook',
      sub: `workflow:${TOKEN_WORKFLOW.id}`,
    });
    expect(typeof payload.instance).toBe('string');
    expect(typeof payload.workflow_version).toBe('string');

    // The response leaves before workflow.postExecute has ended the execution: wait for it.
    const ended = await waitForStatus(item.n8n_execution_id!, (status) => status !== 'running');
    expect(ended.status).toBe('success');

    const introspection = await issuer.fetch('/v1/introspect', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ token: item.token }),
    });
    expect(await introspection.json()).toEqual({ active: false });

    const mint = await fetch(item.WORKFLOW_ID_TOKEN_REQUEST_URL!, {
      method: 'POST',
      headers: {
        authorization: `Bearer ${item.WORKFLOW_ID_TOKEN_REQUEST_TOKEN}`,
        'content-type': 'application/json',
      },
      body: JSON.stringify({ audience: AUDIENCE }),
    });
    expect(mint.status).toBe(401);
    expect(((await mint.json()) as { error: string }).error).toBe('invalid_token');
  });

  it('ends a failing execution with status error', async () => {
    const response = await fetch(`${n8n.url}/webhook/wfid-fail`);
    expect(response.status, n8n.logs().slice(-4000)).toBe(200);
    const item = (await response.json()) as Record<string, string>;
    const { payload } = await jwtVerify(
      item.token!,
      createRemoteJWKSet(new URL(`${issuer.url}/.well-known/jwks.json`)),
      {
        audience: AUDIENCE,
      },
    );
    expect(payload.execution_id).toBe(item.n8n_execution_id);
    expect(payload.workflow_id).toBe(FAILING_WORKFLOW.id);

    const ended = await waitForStatus(item.n8n_execution_id!, (status) => status !== 'running');
    expect(ended.status).toBe('error');
  });

  it('never writes a token or the engine token to n8n logs', () => {
    expect(n8n.logs()).not.toContain(issuer.engineToken);
    expect(n8n.logs()).not.toMatch(/eyJ[\w-]+\.eyJ[\w-]+\./);
  });
});

async function waitForStatus(executionId: string, done: (status: string) => boolean) {
  const deadline = Date.now() + 20_000;
  for (;;) {
    const response = await issuer.fetch(`/v1/executions/${executionId}`, {
      headers: { authorization: `Bearer ${issuer.engineToken}` },
    });
    const body = (await response.json()) as { status: string };
    if (response.ok && done(body.status)) return body;
    if (Date.now() > deadline)
      throw new Error(
        `execution ${executionId}: ${JSON.stringify(body)}\n${n8n.logs().slice(-4000)}`,
      );
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** A published workflow's webhook is live shortly after n8n reports ready. */
async function waitForWebhook(url: string) {
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    const response = await fetch(url).catch(() => undefined);
    if (response && response.status !== 404) return;
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  throw new Error(`webhook ${url} never became active:\n${n8n.logs().slice(-4000)}`);
}
