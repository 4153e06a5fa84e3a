/**
 * In-process mode: the issuer starts inside the real n8n process (WFID_IN_PROCESS=true,
 * from `n8n.ready`), and a webhook execution's token verifies through that issuer's JWKS. The
 * secrets the issuer was given leave n8n's environment, where a workflow's `$env` could read them.
 */
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createRemoteJWKSet, jwtVerify } from 'jose';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { freePort } from '../e2e/harness.js';
import { buildIntegration, type RunningN8n, startN8n } from '../peers/n8n.js';

const ROOT_ENTRY = resolve(import.meta.dirname, '../../dist/src/index.js');
const FIXTURES = join(import.meta.dirname, '../fixtures/n8n');

let n8n: RunningN8n;
let dataDir: string;
let issuerUrl: string;
const ENGINE_TOKEN = `wfe_${randomBytes(32).toString('base64url')}`;
const ADMIN_TOKEN = randomBytes(32).toString('base64url');

beforeAll(async () => {
  if (!existsSync(ROOT_ENTRY)) throw new Error(`${ROOT_ENTRY} missing: run npm run build first`);
  await buildIntegration();
  dataDir = await mkdtemp(join(tmpdir(), 'wfid-n8n-inproc-'));
  // The engine token through a reference to a variable of n8n's own naming.
  const config = join(dataDir, 'wfid.yaml');
  await writeFile(config, 'engine_tokens: ["env:N8N_WFID_ENGINE_TOKEN"]\n');
  const port = await freePort();
  issuerUrl = `http://127.0.0.1:${port}`;
  n8n = await startN8n({
    env: {
      WFID_IN_PROCESS: 'true',
      WFID_IN_PROCESS_MODULE: ROOT_ENTRY,
      WFID_ISSUER: issuerUrl,
      WFID_HOST: '127.0.0.1',
      WFID_PORT: String(port),
      // The SQLite store in the data dir, with the root's better-sqlite3 loaded into n8n's
      // own Node.js.
      WFID_DATA_DIR: dataDir,
      WFID_STORE: `sqlite:${join(dataDir, 'wfid.db')}`,
      WFID_CONFIG: config,
      // The shared fixture's node returns its request credentials too.
      WFID_N8N_REQUEST_CREDENTIALS_IN_OUTPUT: 'true',
      N8N_WFID_ENGINE_TOKEN: ENGINE_TOKEN,
      WFID_ADMIN_TOKEN: ADMIN_TOKEN,
      // What an operator may allow: expressions that read n8n's environment.
      N8N_BLOCK_ENV_ACCESS_IN_NODE: 'false',
    },
    prepare: async (cli) => {
      for (const [file, id] of [
        ['token-workflow.json', 'wfidTokenDemo001'],
        ['env-workflow.json', 'wfidEnvProbe0001'],
      ]) {
        await cli('import:workflow', `--input=${join(FIXTURES, file!)}`);
        await cli('publish:workflow', `--id=${id}`);
      }
    },
  });
}, 300_000);

afterAll(async () => {
  await n8n?.stop();
  if (dataDir) await rm(dataDir, { recursive: true, force: true });
});

/** A published webhook answers once n8n has registered it. */
async function webhook(path: string): Promise<Response> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    const response = await fetch(`${n8n.url}/webhook/${path}`);
    if (response.status !== 404 || Date.now() > deadline) return response;
    await new Promise((done) => setTimeout(done, 250));
  }
}

it('starts the issuer inside n8n and gives executions tokens that verify through its JWKS', async () => {
  const response = await webhook('wfid-token');
  expect(response.status, n8n.logs().slice(-4000)).toBe(200);
  const item = (await response.json()) as Record<string, string>;
  const { payload } = await jwtVerify(
    item.token!,
    createRemoteJWKSet(new URL(`${issuerUrl}/.well-known/jwks.json`)),
    {
      issuer: issuerUrl,
      audience: 'wfid-n8n-test',
    },
  );
  expect(payload).toMatchObject({
    workflow_id: 'wfidTokenDemo001',
    execution_id: item.n8n_execution_id,
    mode: 'webhook',
    trigger: 'n8n-nodes-base.webhook',
  });
  // The execution was recorded in the default SQLite store, not kept in memory.
  const Database = (await import('better-sqlite3')).default;
  const db = new Database(join(dataDir, 'wfid.db'), { readonly: true });
  try {
    const rows = db.prepare('SELECT workflow_id FROM executions').all();
    expect(rows).toContainEqual({ workflow_id: 'wfidTokenDemo001' });
  } finally {
    db.close();
  }
});

it('takes the secrets it was given out of n8n’s environment, where $env would read them', async () => {
  const response = await webhook('wfid-env');
  expect(response.status, n8n.logs().slice(-4000)).toBe(200);
  expect(await response.json()).toEqual({
    engine_token: 'absent',
    admin_token: 'absent',
    store: 'absent',
    // Settings that are not secrets stay.
    issuer_host: '127.0.0.1',
  });
  // The issuer itself still has them: the admin API takes its token.
  const audit = await fetch(`${issuerUrl}/v1/audit?limit=1`, {
    headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
  });
  expect(audit.status).toBe(200);
  expect(n8n.logs()).not.toContain(ADMIN_TOKEN);
  expect(n8n.logs()).not.toContain(ENGINE_TOKEN);
});
