/**
 * A credential-only install (issue 12 item 6): n8n runs the node with a Workflow Identity
 * Issuer credential and no hooks file. The node then checks the running code against n8n's
 * database itself, registers the execution with a short deadline, keeps request credentials
 * out of execution data unless the operator allows them, and refuses sub-workflows, whose
 * caller only the hooks file can see.
 */
import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createRemoteJWKSet, jwtVerify } from 'jose';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { type RunningIssuer, startIssuer } from '../e2e/harness.js';
import { buildIntegration, INTEGRATION, type RunningN8n, startN8n } from '../peers/n8n.js';
import { callWorkflow, chain, idsNode, subworkflowStart, tokenNode, webhook } from './workflows.js';

const AUDIENCE = 'wfid-n8n-credential';
const SOLO = 'wfidSolo00000001';
const CALLEE = 'wfidCallee000001';
const CALLER = 'wfidCaller000002';
const CREDENTIAL = { id: 'wfidCredential01', name: 'Workflow Identity Issuer' };

let issuer: RunningIssuer;
let n8n: RunningN8n;
let work: string;

const withCredential = { credentials: { workflowIdentityApi: CREDENTIAL } };
/** Installed as a community package: its node type carries the package name. */
const NODE_TYPE = 'n8n-nodes-workflow-identity.workflowIdentityToken';
const token = (options: object = {}) => ({
  ...tokenNode(AUDIENCE, options, withCredential),
  type: NODE_TYPE,
});

const solo = {
  id: SOLO,
  name: 'Solo',
  active: false,
  settings: { executionOrder: 'v1' },
  nodes: [
    webhook('wfid-solo'),
    // Asks for its request credentials, which this n8n does not allow in execution data.
    {
      ...token({ includeRequest: true }),
      name: 'With Request',
      id: '00000000-0000-4000-8000-0000000000d1',
    },
    token(),
    idsNode,
  ],
  connections: chain('Webhook', 'With Request', 'Token', 'Ids'),
};
const callee = {
  id: CALLEE,
  name: 'Callee',
  active: false,
  settings: { executionOrder: 'v1', callerPolicy: 'any' },
  nodes: [subworkflowStart, token(), idsNode],
  connections: chain('Start', 'Token', 'Ids'),
};
const caller = {
  id: CALLER,
  name: 'Caller',
  active: false,
  settings: { executionOrder: 'v1' },
  nodes: [webhook('wfid-solo-caller'), callWorkflow('Call', CALLEE)],
  connections: chain('Webhook', 'Call'),
};

beforeAll(async () => {
  await buildIntegration();
  issuer = await startIssuer();
  work = await mkdtemp(join(tmpdir(), 'wfid-n8n-credential-'));
  const credentials = [
    {
      ...CREDENTIAL,
      type: 'workflowIdentityApi',
      data: { issuerUrl: issuer.url, engineToken: issuer.engineToken },
    },
  ];
  await writeFile(join(work, 'credentials.json'), JSON.stringify(credentials));
  const workflows = { solo, callee, caller };
  for (const [name, workflow] of Object.entries(workflows)) {
    await writeFile(join(work, `${name}.json`), JSON.stringify(workflow));
  }
  n8n = await startN8n({
    // No hooks file: only the node and its credential, installed the way users install
    // community nodes (n8n gives a restricted credential's nodes only to packages, not to
    // N8N_CUSTOM_EXTENSIONS).
    env: {
      EXTERNAL_HOOK_FILES: '',
      N8N_CUSTOM_EXTENSIONS: '',
      N8N_COMMUNITY_PACKAGES_ENABLED: 'true',
      // The operator's issuer: the credential's engine token is sent to this origin only.
      WFID_ISSUER_URL: issuer.url,
    },
    prepare: async (cli, userFolder) => {
      const packages = join(userFolder, '.n8n', 'nodes', 'node_modules');
      await mkdir(packages, { recursive: true });
      await symlink(INTEGRATION, join(packages, 'n8n-nodes-workflow-identity'));
      await cli('import:credentials', `--input=${join(work, 'credentials.json')}`);
      for (const name of Object.keys(workflows)) {
        await cli('import:workflow', `--input=${join(work, `${name}.json`)}`);
      }
      for (const id of [SOLO, CALLEE, CALLER]) await cli('publish:workflow', `--id=${id}`);
    },
  });
  await waitForWebhook(`${n8n.url}/webhook/wfid-solo-caller`);
}, 300_000);

afterAll(async () => {
  await n8n?.stop();
  await issuer?.stop();
  if (work) await rm(work, { recursive: true, force: true });
});

it('registers a published workflow’s execution itself, with a short deadline and the stored identity', async () => {
  const response = await fetch(`${n8n.url}/webhook/wfid-solo`);
  expect(response.status, n8n.logs().slice(-4000)).toBe(200);
  const item = (await response.json()) as Record<string, string>;
  const jwks = createRemoteJWKSet(new URL(`${issuer.url}/.well-known/jwks.json`));
  const { payload } = await jwtVerify(item.token!, jwks, {
    issuer: issuer.url,
    audience: AUDIENCE,
  });
  expect(payload).toMatchObject({
    workflow_id: SOLO,
    workflow_name: 'Solo',
    execution_id: item.n8n_execution_id,
    published: true,
    mode: 'webhook',
  });
  expect(payload.workflow_digest).toMatch(/^sha256:[0-9a-f]{64}$/);

  // Request credentials never reach execution data unless the operator allows them.
  expect(item.error).toMatch(/WFID_N8N_REQUEST_CREDENTIALS_IN_OUTPUT=true/);
  expect(item.WORKFLOW_ID_TOKEN_REQUEST_TOKEN).toBeUndefined();

  // Nothing ends it (no hooks file): it dies at the node's default deadline, 900 s.
  const state = await issuer.fetch(`/v1/executions/${item.n8n_execution_id}`, {
    headers: { authorization: `Bearer ${issuer.engineToken}` },
  });
  const { started_at, deadline, status } = (await state.json()) as Record<string, string>;
  expect(status).toBe('running');
  expect(Date.parse(deadline!) - Date.parse(started_at!)).toBe(900_000);
});

it('refuses a sub-workflow: without the hooks its caller cannot be known', async () => {
  const response = await fetch(`${n8n.url}/webhook/wfid-solo-caller`);
  expect(response.status, n8n.logs().slice(-4000)).toBe(200);
  const item = (await response.json()) as Record<string, string>;
  expect(item.token).toBeUndefined();
  expect(item.error).toMatch(/ERR_N8N_UNKNOWN_CALLER/);
  const lookup = await issuer.fetch(`/v1/executions/${item.n8n_execution_id}`, {
    headers: { authorization: `Bearer ${issuer.engineToken}` },
  });
  expect(lookup.status).toBe(404);
});

it('never writes a token or the engine token to n8n logs', () => {
  expect(n8n.logs()).not.toContain(issuer.engineToken);
  expect(n8n.logs()).not.toMatch(/eyJ[\w-]+\.eyJ[\w-]+\./);
});

async function waitForWebhook(url: string) {
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    const response = await fetch(url).catch(() => undefined);
    if (response && response.status !== 404) return;
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  throw new Error(`webhook ${url} never became active:\n${n8n.logs().slice(-4000)}`);
}
