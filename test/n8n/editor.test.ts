/**
 * What an editor can try from inside n8n, in a real n8n.
 *
 * Retries. A retry is a run a user starts, like a manual run: it resumes a failed execution with the
 * run data that execution saved (a manual run's, which its user chose through pinned data or
 * a partial run's `runData`) and, with "retry with the currently saved workflow", runs the
 * saved draft. A real n8n with WFID_N8N_REFUSE_MANUAL=true: an editor runs the published
 * workflow manually (refused, so the execution fails at the token node), then retries that
 * execution. The retry must be refused too, never get `published: true`; its HTTP Request
 * node, fed by the manual run's data, must receive no token.
 *
 * The engine token. Operators who let expressions read the environment
 * (N8N_BLOCK_ENV_ACCESS_IN_NODE=false) must not hand every editor the engine token, which
 * registers any execution under any workflow id: `{{ $env.WFID_ENGINE_TOKEN }}` reads nothing.
 */

import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningIssuer, startIssuer } from '../e2e/harness.js';
import { buildIntegration, type RunningN8n, startN8n } from '../peers/n8n.js';
import { chain, node, tokenNode, webhook } from './workflows.js';

const AUDIENCE = 'wfid-n8n-retry';
const PAYMENTS = 'wfidPayments0001';
const PEEK = 'wfidPeekEnv00001';
const BROWSER = 'wfid-retry-test-browser';

let issuer: RunningIssuer;
let n8n: RunningN8n;
let work: string;
let sink: Server;
let sinkUrl: string;
/** Authorization headers the workflow's HTTP Request node delivered. */
const received: string[] = [];
let cookie = '';

beforeAll(async () => {
  await buildIntegration();
  issuer = await startIssuer();
  sink = createServer((request, response) => {
    received.push(String(request.headers.authorization ?? ''));
    response.end('{}');
  });
  await new Promise<void>((done) => sink.listen(0, '127.0.0.1', done));
  sinkUrl = `http://127.0.0.1:${(sink.address() as AddressInfo).port}/`;

  /** Published: a webhook or a manual run takes a token and sends it to a fixed URL. */
  const payments = {
    id: PAYMENTS,
    name: 'Payments',
    active: false,
    settings: { executionOrder: 'v1' },
    nodes: [
      webhook('wfid-payments'),
      node('Manual', 'n8n-nodes-base.manualTrigger', 1, {}),
      // Fails the execution when refused, so it can be retried from here.
      tokenNode(AUDIENCE, {}, { onError: 'stopWorkflow' }),
      node('Send', 'n8n-nodes-base.httpRequest', 4.2, {
        method: 'POST',
        url: sinkUrl,
        sendHeaders: true,
        headerParameters: {
          parameters: [{ name: 'authorization', value: '=Bearer {{ $json.token }}' }],
        },
        options: {},
      }),
    ],
    connections: {
      ...chain('Webhook', 'Token', 'Send'),
      Manual: { main: [[{ node: 'Token', type: 'main', index: 0 }]] },
    },
  };
  /** Published: answers its webhook with what `$env` gives for the engine token. */
  const peek = {
    id: PEEK,
    name: 'Peek',
    active: false,
    settings: { executionOrder: 'v1' },
    nodes: [
      webhook('wfid-peek'),
      node('Peek', 'n8n-nodes-base.set', 3.4, {
        mode: 'manual',
        assignments: {
          assignments: [
            {
              id: 'p1',
              name: 'engine',
              value: '={{ $env.WFID_ENGINE_TOKEN ?? "absent" }}',
              type: 'string',
            },
            { id: 'p2', name: 'issuer', value: '={{ $env.WFID_ISSUER_URL }}', type: 'string' },
          ],
        },
        options: {},
      }),
    ],
    connections: chain('Webhook', 'Peek'),
  };
  work = await mkdtemp(join(tmpdir(), 'wfid-n8n-editor-'));
  await writeFile(join(work, 'payments.json'), JSON.stringify(payments));
  await writeFile(join(work, 'peek.json'), JSON.stringify(peek));
  n8n = await startN8n({
    env: {
      WFID_ISSUER_URL: issuer.url,
      WFID_ENGINE_TOKEN: issuer.engineToken,
      WFID_N8N_REFUSE_MANUAL: 'true',
      N8N_BLOCK_ENV_ACCESS_IN_NODE: 'false',
    },
    prepare: async (cli) => {
      for (const [file, id] of [
        ['payments.json', PAYMENTS],
        ['peek.json', PEEK],
      ]) {
        await cli('import:workflow', `--input=${join(work, file!)}`);
        await cli('publish:workflow', `--id=${id}`);
      }
    },
  });
  const setup = await fetch(`${n8n.url}/rest/owner/setup`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'browser-id': BROWSER },
    body: JSON.stringify({
      email: 'editor@example.com',
      firstName: 'Ed',
      lastName: 'Itor',
      password: 'Passw0rd-for-tests',
    }),
  });
  expect(setup.status, await setup.clone().text()).toBe(200);
  cookie = (setup.headers.get('set-cookie') ?? '').split(';')[0]!;
}, 300_000);

afterAll(async () => {
  await n8n?.stop();
  await issuer?.stop();
  await new Promise((done) => sink?.close(done));
  if (work) await rm(work, { recursive: true, force: true });
});

describe('retrying a refused manual run', () => {
  it('gets no token either: a retry is a user’s run, never published: true', async () => {
    const run = await rest('POST', `/rest/workflows/${PAYMENTS}/run`, {
      triggerToStartFrom: { name: 'Manual' },
    });
    const executionId = String((run as { data: { executionId: string } }).data.executionId);
    const failed = await finished(executionId);
    expect(failed.status, JSON.stringify(failed)).toBe('error');
    expect(received).toEqual([]);

    const retried = (await rest('POST', `/rest/executions/${executionId}/retry`, {
      loadWorkflow: false,
    })) as { data: { id?: string; status?: string } };
    const outcome = await finished(String(retried.data.id));
    expect(outcome.status, JSON.stringify(outcome)).toBe('error');
    expect(received, 'the retry sent a token').toEqual([]);
    expect(n8n.logs()).toMatch(/no identity for this execution \(ERR_N8N_MANUAL_REFUSED\)/);
  });
});

describe('the engine token', () => {
  it('is not in n8n’s environment once the hooks read it, even where expressions may read the environment', async () => {
    const url = `${n8n.url}/webhook/wfid-peek`;
    let response = await fetch(url);
    for (let tries = 0; response.status === 404 && tries < 120; tries++) {
      await new Promise((done) => setTimeout(done, 250));
      response = await fetch(url);
    }
    const text = await response.text();
    expect(response.status, `${text}\n${n8n.logs().slice(-3000)}`).toBe(200);
    // The environment is readable here (the issuer URL comes through); the engine token is not.
    expect(JSON.parse(text)).toEqual({ engine: 'absent', issuer: issuer.url });
    expect(text).not.toContain(issuer.engineToken);
  });
});

async function rest(method: string, path: string, body?: object): Promise<unknown> {
  const response = await fetch(`${n8n.url}${path}`, {
    method,
    headers: { 'content-type': 'application/json', 'browser-id': BROWSER, cookie },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  expect(response.status, `${method} ${path}: ${text}\n${n8n.logs().slice(-3000)}`).toBe(200);
  return JSON.parse(text);
}

async function finished(executionId: string): Promise<{ status: string }> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    const { data } = (await rest('GET', `/rest/executions/${executionId}`)) as {
      data: { status: string; finished: boolean; stoppedAt?: string };
    };
    if (data.stoppedAt) return data;
    if (Date.now() > deadline) throw new Error(`execution ${executionId} still running`);
    await new Promise((done) => setTimeout(done, 200));
  }
}
