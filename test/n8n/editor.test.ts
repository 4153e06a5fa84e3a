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
 * Token files. They live where n8n's file nodes cannot read them: another workflow's
 * Read/Write Files node reading `<dir>/*.jwt` gets none of a running execution's tokens.
 *
 * The engine token. Operators who let expressions read the environment
 * (N8N_BLOCK_ENV_ACCESS_IN_NODE=false) must not hand every editor the engine token, which
 * registers any execution under any workflow id: `{{ $env.WFID_ENGINE_TOKEN }}` reads nothing.
 */

import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
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
const SLOW = 'wfidSlowPayroll1';
const SNOOP = 'wfidSnoopFiles01';
let tokenDir: string;
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
  /** Published: holds its execution (and so its token file) open for a few seconds. */
  const slow = {
    id: SLOW,
    name: 'Slow Payroll',
    active: false,
    settings: { executionOrder: 'v1' },
    nodes: [
      {
        ...webhook('wfid-slow'),
        parameters: {
          httpMethod: 'GET',
          path: 'wfid-slow',
          responseMode: 'onReceived',
          options: {},
        },
      },
      node('Hold', 'n8n-nodes-base.wait', 1.1, { amount: 6, unit: 'seconds' }),
    ],
    connections: chain('Webhook', 'Hold'),
  };
  /** Published: reads whatever token files the Read/Write Files node can reach. */
  const snoop = (dir: string) => ({
    id: SNOOP,
    name: 'Snoop',
    active: false,
    settings: { executionOrder: 'v1' },
    nodes: [
      {
        ...webhook('wfid-snoop'),
        parameters: {
          httpMethod: 'GET',
          path: 'wfid-snoop',
          responseMode: 'lastNode',
          responseData: 'allEntries',
          options: {},
        },
      },
      node('Read', 'n8n-nodes-base.readWriteFile', 1, {
        operation: 'read',
        fileSelector: `${dir}/*.jwt`,
        options: {},
      }),
      node('Text', 'n8n-nodes-base.extractFromFile', 1, { operation: 'text', options: {} }),
    ],
    connections: chain('Webhook', 'Read', 'Text'),
  });
  work = await mkdtemp(join(tmpdir(), 'wfid-n8n-editor-'));
  tokenDir = join(work, 'tokens');
  await mkdir(tokenDir, { mode: 0o700 });
  await mkdir(join(work, 'files'));
  await writeFile(join(work, 'slow.json'), JSON.stringify(slow));
  await writeFile(join(work, 'snoop.json'), JSON.stringify(snoop(tokenDir)));
  await writeFile(join(work, 'payments.json'), JSON.stringify(payments));
  await writeFile(join(work, 'peek.json'), JSON.stringify(peek));
  n8n = await startN8n({
    env: {
      WFID_ISSUER_URL: issuer.url,
      WFID_ENGINE_TOKEN: issuer.engineToken,
      WFID_N8N_REFUSE_MANUAL: 'true',
      N8N_BLOCK_ENV_ACCESS_IN_NODE: 'false',
      // Files nodes may use the operator's own folder; the token directory lies outside it.
      WFID_TOKEN_FILE_DIR: tokenDir,
      WFID_TOKEN_FILE_AUDIENCE: AUDIENCE,
      N8N_RESTRICT_FILE_ACCESS_TO: join(work, 'files'),
    },
    prepare: async (cli) => {
      for (const [file, id] of [
        ['payments.json', PAYMENTS],
        ['peek.json', PEEK],
        ['slow.json', SLOW],
        ['snoop.json', SNOOP],
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

describe('token files', () => {
  it('cannot be read by another workflow’s Read/Write Files node', async () => {
    await waitForWebhook(`${n8n.url}/webhook/wfid-snoop`);
    const started = await fetch(`${n8n.url}/webhook/wfid-slow`);
    expect(started.status, n8n.logs().slice(-3000)).toBe(200);
    let files: string[] = [];
    for (let tries = 0; files.length === 0 && tries < 40; tries++) {
      files = (await readdir(tokenDir)).filter((name) => name.endsWith('.jwt'));
      if (files.length === 0) await new Promise((done) => setTimeout(done, 100));
    }
    expect(files, 'the slow execution never got its token file').toHaveLength(1);
    const response = await fetch(`${n8n.url}/webhook/wfid-snoop`);
    const text = await response.text();
    // Every JWT in the answer, decoded: none may be another workflow's.
    const read = [...text.matchAll(/eyJ[\w-]+\.(eyJ[\w-]+)\.[\w-]+/g)].map(
      (match) => JSON.parse(Buffer.from(match[1]!, 'base64url').toString()).workflow_id,
    );
    expect(read, 'another workflow read a running execution’s token').not.toContain(SLOW);
    // n8n refuses the read outright: the directory is outside what file nodes may touch.
    expect(text).toContain('Error in workflow');
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

async function waitForWebhook(url: string) {
  for (let tries = 0; tries < 120; tries++) {
    const response = await fetch(url).catch(() => undefined);
    if (response && response.status !== 404) return;
    await new Promise((done) => setTimeout(done, 250));
  }
  throw new Error(`webhook ${url} never became active:\n${n8n.logs().slice(-3000)}`);
}

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
