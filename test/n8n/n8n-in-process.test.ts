/**
 * In-process mode: the issuer starts inside the real n8n process (WFID_IN_PROCESS=true,
 * from `n8n.ready`), and a webhook execution's token verifies through that issuer's JWKS.
 */
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
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

beforeAll(async () => {
  if (!existsSync(ROOT_ENTRY)) throw new Error(`${ROOT_ENTRY} missing: run npm run build first`);
  await buildIntegration();
  dataDir = await mkdtemp(join(tmpdir(), 'wfid-n8n-inproc-'));
  const port = await freePort();
  issuerUrl = `http://127.0.0.1:${port}`;
  n8n = await startN8n({
    env: {
      WFID_IN_PROCESS: 'true',
      WFID_IN_PROCESS_MODULE: ROOT_ENTRY,
      WFID_ISSUER: issuerUrl,
      WFID_HOST: '127.0.0.1',
      WFID_PORT: String(port),
      // No WFID_STORE: the default SQLite store in the data dir, with the root's
      // better-sqlite3 loaded into n8n's own Node.js.
      WFID_DATA_DIR: dataDir,
      // The shared fixture's node returns its request credentials too.
      WFID_N8N_REQUEST_CREDENTIALS_IN_OUTPUT: 'true',
    },
    prepare: async (cli) => {
      await cli('import:workflow', `--input=${join(FIXTURES, 'token-workflow.json')}`);
      await cli('publish:workflow', '--id=wfidTokenDemo001');
    },
  });
}, 300_000);

afterAll(async () => {
  await n8n?.stop();
  if (dataDir) await rm(dataDir, { recursive: true, force: true });
});

it('starts the issuer inside n8n and gives executions tokens that verify through its JWKS', async () => {
  const deadline = Date.now() + 30_000;
  let response: Response;
  for (;;) {
    response = await fetch(`${n8n.url}/webhook/wfid-token`);
    if (response.status !== 404 || Date.now() > deadline) break;
    await new Promise((done) => setTimeout(done, 250));
  }
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
