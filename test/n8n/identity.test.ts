/**
 * A real n8n tries to borrow identities (issue 12): an inline sub-workflow whose JSON names
 * a published workflow gets no token and never that id; a database sub-workflow gets its own
 * id with parent/root claims; the production webhook run carries the published version and
 * digest; a run of an edited, unpublished draft (`n8n execute`) says `published: false` with
 * the draft's version and digest; token files stay inside the operator's directory.
 */
import { lstat, mkdir, mkdtemp, readdir, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { createRemoteJWKSet, type JWTPayload, jwtVerify } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { workflowDigest } from '../../integrations/n8n/src/identity/workflow-digest.js';
import { type RunningIssuer, startIssuer } from '../e2e/harness.js';
import { buildIntegration, type RunningN8n, startN8n } from '../peers/n8n.js';
import {
  callWorkflow,
  chain,
  idsNode,
  node,
  subworkflowStart,
  tokenNode,
  webhook,
} from './workflows.js';

const AUDIENCE = 'wfid-n8n-identity';
const PAYROLL = 'wfidPayroll00001';
const REPORTS = 'wfidReports00001';
const CALLER = 'wfidCaller000001';
const DRAFT = 'wfidDraft0000001';

let issuer: RunningIssuer;
let n8n: RunningN8n;
let work: string;
let tokenDir: string;

const token = (options: object = {}) => tokenNode(AUDIENCE, options);

/** The workflow a thief would like to be: published, callable by any workflow. */
const payroll = {
  id: PAYROLL,
  name: 'Payroll',
  active: false,
  settings: { executionOrder: 'v1', callerPolicy: 'any' },
  nodes: [subworkflowStart, token(), idsNode],
  connections: chain('Start', 'Token', 'Ids'),
};

/** "Reports" runs Payroll's JSON, id and all, as an inline ("Define below") sub-workflow. */
const reports = {
  id: REPORTS,
  name: 'Reports',
  active: false,
  settings: { executionOrder: 'v1' },
  nodes: [
    webhook('wfid-reports'),
    node('Manual', 'n8n-nodes-base.manualTrigger', 1, {}),
    node('Borrow', 'n8n-nodes-base.executeWorkflow', 1.2, {
      source: 'parameter',
      workflowJson: JSON.stringify(payroll),
      options: {},
    }),
  ],
  connections: {
    ...chain('Webhook', 'Borrow'),
    Manual: { main: [[{ node: 'Borrow', type: 'main', index: 0 }]] },
  },
};

/** "Caller" gets its own token, then calls Payroll from the database. */
const caller = {
  id: CALLER,
  name: 'Caller',
  active: false,
  settings: { executionOrder: 'v1' },
  nodes: [
    webhook('wfid-caller'),
    node('Manual', 'n8n-nodes-base.manualTrigger', 1, {}),
    { ...token(), name: 'Own Token', id: '00000000-0000-4000-8000-0000000000c1' },
    callWorkflow('Call Payroll', PAYROLL),
  ],
  connections: {
    ...chain('Webhook', 'Own Token', 'Call Payroll'),
    Manual: { main: [[{ node: 'Own Token', type: 'main', index: 0 }]] },
  },
};

/** Published once, then edited and not published again; also writes a token file. */
const draft = (label: string) => ({
  id: DRAFT,
  name: 'Draft',
  active: false,
  settings: { executionOrder: 'v1' },
  nodes: [
    webhook('wfid-draft'),
    node('Manual', 'n8n-nodes-base.manualTrigger', 1, {}),
    token({ writeTokenFile: true, tokenFile: '../../outside.jwt' }),
    {
      ...idsNode,
      parameters: { ...idsNode.parameters, options: {}, includeOtherFields: true },
      notes: label,
    },
    node('Label', 'n8n-nodes-base.set', 3.4, {
      mode: 'manual',
      includeOtherFields: true,
      assignments: { assignments: [{ id: 'l1', name: 'label', value: label, type: 'string' }] },
      options: {},
    }),
  ],
  connections: {
    Webhook: { main: [[{ node: 'Token', type: 'main', index: 0 }]] },
    Manual: { main: [[{ node: 'Token', type: 'main', index: 0 }]] },
    ...chain('Token', 'Ids', 'Label'),
  },
});

beforeAll(async () => {
  await buildIntegration();
  issuer = await startIssuer();
  work = await mkdtemp(join(tmpdir(), 'wfid-n8n-identity-'));
  tokenDir = join(work, 'tokens');
  await mkdir(tokenDir, { mode: 0o700 });
  const files: Record<string, object> = { payroll, reports, caller, draft: draft('v1') };
  for (const [name, workflow] of Object.entries(files)) {
    await writeFile(join(work, `${name}.json`), JSON.stringify(workflow));
  }
  n8n = await startN8n({
    env: {
      WFID_ISSUER_URL: issuer.url,
      WFID_ENGINE_TOKEN: issuer.engineToken,
      WFID_TOKEN_FILE_DIR: tokenDir,
    },
    prepare: async (cli) => {
      for (const name of Object.keys(files)) {
        await cli('import:workflow', `--input=${join(work, `${name}.json`)}`);
      }
      for (const id of [PAYROLL, REPORTS, CALLER, DRAFT])
        await cli('publish:workflow', `--id=${id}`);
    },
  });
  // Published workflows' webhooks go live together shortly after n8n reports ready.
  await waitForWebhook(`${n8n.url}/webhook/wfid-reports`);
}, 300_000);

afterAll(async () => {
  await n8n?.stop();
  await issuer?.stop();
  if (work) await rm(work, { recursive: true, force: true });
});

describe('n8n identities cannot be borrowed', () => {
  it('an inline sub-workflow carrying a published workflow’s id gets no token and never that id', async () => {
    const response = await fetch(`${n8n.url}/webhook/wfid-reports`);
    expect(response.status, n8n.logs().slice(-4000)).toBe(200);
    const item = (await response.json()) as Record<string, string>;
    expect(item.token).toBeUndefined();
    expect(item.error).toMatch(/ERR_N8N_NOT_STORED_CODE/);
    expect(item.error).not.toContain(PAYROLL);
    // n8n itself kept the id from the JSON: exactly what the token must not repeat.
    expect(item.n8n_workflow_id).toBe(PAYROLL);
    expect(n8n.logs()).toMatch(/no identity for this execution \(ERR_N8N_NOT_STORED_CODE\)/);
    // The inline execution was never registered with the issuer.
    const lookup = await issuer.fetch(`/v1/executions/${item.n8n_execution_id}`, {
      headers: { authorization: `Bearer ${issuer.engineToken}` },
    });
    expect(lookup.status).toBe(404);
  });

  it('opted in (WFID_N8N_INLINE_IDENTITY=caller), inline code gets an identity derived from its root, never the id in its JSON', async () => {
    const output = await n8n.cliWith(
      { WFID_N8N_INLINE_IDENTITY: 'caller' },
      'execute',
      `--id=${REPORTS}`,
      '--rawOutput',
    );
    const payload = await verify(tokenFromCliOutput(output));
    expect(payload).toMatchObject({
      sub: `workflow:${REPORTS}.inline`,
      workflow_id: `${REPORTS}.inline`,
      published: false,
      parent_workflow_id: REPORTS,
      root_workflow_id: REPORTS,
      mode: 'cli',
    });
    expect(payload.workflow_version).toBeUndefined();
    expect(JSON.stringify(payload)).not.toContain(PAYROLL);
  });

  it('a database sub-workflow gets its own id, the published version and digest, and parent/root claims', async () => {
    const response = await fetch(`${n8n.url}/webhook/wfid-caller`);
    expect(response.status, n8n.logs().slice(-4000)).toBe(200);
    const item = (await response.json()) as Record<string, string>;
    expect(item.error, n8n.logs().slice(-4000)).toBeUndefined();
    const payload = await verify(item.token!);
    const published = publishedVersion(PAYROLL);
    expect(payload).toMatchObject({
      sub: `workflow:${PAYROLL}`,
      workflow_id: PAYROLL,
      workflow_name: 'Payroll',
      execution_id: item.n8n_execution_id,
      workflow_version: published.versionId,
      workflow_digest: workflowDigest(published),
      published: true,
      parent_workflow_id: CALLER,
      root_workflow_id: CALLER,
      mode: 'webhook',
      project_id: projectOf(PAYROLL),
    });
    expect(payload.parent_execution_id).toBe(payload.root_execution_id);
    expect(payload.parent_execution_id).not.toBe(item.n8n_execution_id);
  });

  it('a sub-workflow of a draft run shows the root’s mode and is never published: true', async () => {
    const output = await n8n.cli('execute', `--id=${CALLER}`, '--rawOutput');
    const runData = runDataFromCliOutput(output);
    const own = await verify(lastJson(runData, 'Own Token').token as string);
    const sub = await verify(lastJson(runData, 'Call Payroll').token as string);
    expect(own).toMatchObject({ workflow_id: CALLER, published: false, mode: 'cli' });
    // n8n runs the published Payroll for a CLI caller; the chain began with a draft run.
    expect(sub).toMatchObject({
      workflow_id: PAYROLL,
      workflow_version: publishedVersion(PAYROLL).versionId,
      published: false,
      mode: 'cli',
      parent_execution_id: own.execution_id,
      parent_workflow_id: CALLER,
      root_execution_id: own.execution_id,
      root_workflow_id: CALLER,
    });
  });

  it('the production webhook run gets the published version and digest; its token file stays in the directory, never following a planted symlink', async () => {
    const victim = join(work, 'victim');
    await writeFile(victim, 'do not touch');
    // Plant symlinks under every execution id this run could get.
    for (let id = 1; id <= 40; id++) {
      await symlink(victim, join(tokenDir, `${id}.jwt`));
    }
    const before = (await readdir(work)).sort();
    const response = await fetch(`${n8n.url}/webhook/wfid-draft`);
    expect(response.status, n8n.logs().slice(-4000)).toBe(200);
    const item = (await response.json()) as Record<string, string>;
    const production = await verify(item.token!);
    const v1 = publishedVersion(DRAFT);
    expect(production).toMatchObject({
      workflow_id: DRAFT,
      workflow_version: v1.versionId,
      workflow_digest: workflowDigest(v1),
      published: true,
      mode: 'webhook',
      root_execution_id: item.n8n_execution_id,
      root_workflow_id: DRAFT,
    });
    expect(production.parent_execution_id).toBeUndefined();
    expect(Number(item.n8n_execution_id)).toBeLessThanOrEqual(40);

    // Named by the execution id alone, inside the operator's directory; the node's old
    // free-text path ('../../outside.jwt') no longer exists.
    const own = join(tokenDir, `${item.n8n_execution_id}.jwt`);
    expect(item.token_file).toBe(own);
    await waitUntil(async () => !(await exists(own)));
    expect(await readFile(victim, 'utf8')).toBe('do not touch');
    expect((await readdir(work)).sort()).toEqual(before);
    await expect(lstat(join(work, '..', 'outside.jwt'))).rejects.toMatchObject({ code: 'ENOENT' });
    // Every other execution's name is still the planted link: nobody else's file was touched.
    const left = await readdir(tokenDir);
    expect(left).toHaveLength(39);
    for (const name of left)
      expect((await lstat(join(tokenDir, name))).isSymbolicLink()).toBe(true);
  });

  it('a run of the edited, unpublished draft says published: false with the draft’s version and digest', async () => {
    const v1 = publishedVersion(DRAFT);
    await writeFile(join(work, 'draft.json'), JSON.stringify(draft('v2')));
    await n8n.cli('import:workflow', `--input=${join(work, 'draft.json')}`);
    const saved = savedDraft(DRAFT);
    expect(saved.versionId).not.toBe(v1.versionId);
    const output = await n8n.cli('execute', `--id=${DRAFT}`, '--rawOutput');
    const manual = await verify(tokenFromCliOutput(output));
    expect(manual).toMatchObject({
      workflow_id: DRAFT,
      workflow_version: saved.versionId,
      workflow_digest: workflowDigest(saved),
      published: false,
      mode: 'cli',
    });
    expect(manual.workflow_digest).not.toBe(workflowDigest(v1));
  });

  it('never writes a token or the engine token to n8n logs', () => {
    expect(n8n.logs()).not.toContain(issuer.engineToken);
    expect(n8n.logs()).not.toMatch(/eyJ[\w-]+\.eyJ[\w-]+\./);
  });
});

async function verify(token: string): Promise<JWTPayload & Record<string, unknown>> {
  expect(token, n8n.logs().slice(-4000)).toMatch(/^eyJ/);
  const jwks = createRemoteJWKSet(new URL(`${issuer.url}/.well-known/jwks.json`));
  const { payload } = await jwtVerify(token, jwks, { issuer: issuer.url, audience: AUDIENCE });
  return payload as JWTPayload & Record<string, unknown>;
}

function database() {
  return new Database(join(n8n.userFolder, '.n8n', 'database.sqlite'), { readonly: true });
}

/** The published version as n8n stores it (workflow_history row of activeVersionId). */
function publishedVersion(workflowId: string) {
  const db = database();
  try {
    const row = db
      .prepare(
        'SELECT h.versionId, h.nodes, h.connections FROM workflow_entity w JOIN workflow_history h ON h.versionId = w.activeVersionId WHERE w.id = ?',
      )
      .get(workflowId) as { versionId: string; nodes: string; connections: string };
    return {
      versionId: row.versionId,
      nodes: JSON.parse(row.nodes),
      connections: JSON.parse(row.connections),
    };
  } finally {
    db.close();
  }
}

function savedDraft(workflowId: string) {
  const db = database();
  try {
    const row = db
      .prepare('SELECT versionId, nodes, connections FROM workflow_entity WHERE id = ?')
      .get(workflowId) as { versionId: string; nodes: string; connections: string };
    return {
      versionId: row.versionId,
      nodes: JSON.parse(row.nodes),
      connections: JSON.parse(row.connections),
    };
  } finally {
    db.close();
  }
}

function projectOf(workflowId: string): string {
  const db = database();
  try {
    const row = db
      .prepare(
        "SELECT projectId FROM shared_workflow WHERE workflowId = ? AND role = 'workflow:owner'",
      )
      .get(workflowId) as { projectId: string };
    return row.projectId;
  } finally {
    db.close();
  }
}

/** `n8n execute --rawOutput` prints the run as pretty JSON among its log lines. */
function runDataFromCliOutput(output: string): Record<string, unknown> {
  // Log lines may follow it: the run is the block from a line `{` to the next line `}`.
  const block = output.match(/^\{$[\s\S]*?^\}$/m);
  if (!block) throw new Error(`no run data in n8n execute output:\n${output.slice(-3000)}`);
  const run = JSON.parse(block[0]) as {
    data: { resultData: { runData: Record<string, unknown> } };
  };
  return run.data.resultData.runData;
}

function lastJson(runData: Record<string, unknown>, nodeName: string): Record<string, unknown> {
  const runs = runData[nodeName] as Array<{ data: { main: Array<Array<{ json: object }>> } }>;
  return runs.at(-1)!.data.main[0]![0]!.json as Record<string, unknown>;
}

function tokenFromCliOutput(output: string): string {
  const match = output.match(/"token":\s*"(eyJ[^"]+)"/);
  if (!match) throw new Error(`no token in n8n execute output:\n${output.slice(-3000)}`);
  return match[1]!;
}

async function exists(path: string): Promise<boolean> {
  return lstat(path).then(
    () => true,
    () => false,
  );
}

async function waitUntil(done: () => Promise<boolean>) {
  const deadline = Date.now() + 20_000;
  while (!(await done())) {
    if (Date.now() > deadline) throw new Error(`timed out\n${n8n.logs().slice(-3000)}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

async function waitForWebhook(url: string) {
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    const response = await fetch(url).catch(() => undefined);
    if (response && response.status !== 404) return;
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  throw new Error(`webhook ${url} never became active:\n${n8n.logs().slice(-4000)}`);
}
