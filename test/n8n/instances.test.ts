/**
 * Two n8n instances (staging and production) share one issuer, each with its own named engine
 * credential. n8n execution ids are per-database sequences, so both instances run the same
 * workflow id under the same execution id: each gets its own execution at the issuer (no 409,
 * no shared record), its token names its engine and instance, and the end of one never ends
 * the other.
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createRemoteJWKSet, type JWTPayload, jwtVerify } from 'jose';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { type RunningIssuer, startIssuer, until } from '../e2e/harness.js';
import { buildIntegration, type RunningN8n, startN8n } from '../peers/n8n.js';

const FIXTURES = join(import.meta.dirname, '../fixtures/n8n');
const WORKFLOW_ID = 'wfidTokenDemo001';
const AUDIENCE = 'wfid-n8n-test';
const ENGINES = {
  staging: { name: 'n8n-staging', environment: 'staging', instance: 'staging-1' },
  production: { name: 'n8n-prod', environment: 'production', instance: 'prod-1' },
} as const;
type Instance = keyof typeof ENGINES;
const TOKENS: Record<Instance, string> = {
  staging: `wfe_staging_${randomBytes(24).toString('base64url')}`,
  production: `wfe_prod_${randomBytes(24).toString('base64url')}`,
};

let issuer: RunningIssuer;
let configDir: string;
const n8n: Partial<Record<Instance, RunningN8n>> = {};

beforeAll(async () => {
  await buildIntegration();
  configDir = await mkdtemp(join(tmpdir(), 'wfid-n8n-instances-'));
  const config = join(configDir, 'wfid.yaml');
  await writeFile(
    config,
    [
      'engines:',
      ...Object.entries(ENGINES).map(
        ([key, engine]) =>
          `  - {name: ${engine.name}, token: "env:ENGINE_TOKEN_${key.toUpperCase()}", environment: ${engine.environment}, instance: ${engine.instance}}`,
      ),
      'tokens: {subject: "engine:{engine}:workflow:{workflow_id}"}',
    ].join('\n'),
  );
  issuer = await startIssuer({
    env: {
      WFID_CONFIG: config,
      ENGINE_TOKEN_STAGING: TOKENS.staging,
      ENGINE_TOKEN_PRODUCTION: TOKENS.production,
    },
  });
  // One after the other: each n8n start takes most of this machine's CPU for a while.
  for (const key of Object.keys(ENGINES) as Instance[]) {
    n8n[key] = await startN8n({
      env: {
        WFID_ISSUER_URL: issuer.url,
        WFID_ENGINE_TOKEN: TOKENS[key],
        WFID_N8N_ENVIRONMENT: ENGINES[key].environment,
        WFID_N8N_INSTANCE: ENGINES[key].instance,
        // The fixture's node also returns its request credentials.
        WFID_N8N_REQUEST_CREDENTIALS_IN_OUTPUT: 'true',
      },
      prepare: async (cli) => {
        await cli('import:workflow', `--input=${join(FIXTURES, 'token-workflow.json')}`);
        await cli('publish:workflow', `--id=${WORKFLOW_ID}`);
      },
    });
  }
}, 420_000);

afterAll(async () => {
  await Promise.all(Object.values(n8n).map((instance) => instance?.stop()));
  await issuer?.stop();
  if (configDir) await rm(configDir, { recursive: true, force: true });
});

/** Runs the token workflow on one instance (its webhook is live shortly after ready). */
async function run(key: Instance): Promise<{ executionId: string; token: string }> {
  const url = `${n8n[key]!.url}/webhook/wfid-token`;
  let response: Response | undefined;
  await until(async () => {
    response = await fetch(url);
    return response.status !== 404;
  }, 30_000);
  const text = await response!.text();
  expect(response!.status, `${key}: ${text}\n${n8n[key]!.logs().slice(-3000)}`).toBe(200);
  const item = JSON.parse(text) as Record<string, string>;
  return { executionId: item.n8n_execution_id!, token: item.token! };
}

async function statusAt(key: Instance, executionId: string): Promise<string> {
  const response = await issuer.fetch(`/v1/executions/${executionId}`, {
    headers: { authorization: `Bearer ${TOKENS[key]}` },
  });
  expect(response.status).toBe(200);
  return ((await response.json()) as { status: string }).status;
}

it('keeps two instances running the same workflow under the same execution id apart', async () => {
  const staging = await run('staging');
  await until(async () => (await statusAt('staging', staging.executionId)) !== 'running');

  // The same workflow id under the same execution id, from the other database's sequence:
  // before engine namespaces this met the staging record (ended: 409, or shared while running).
  const production = await run('production');
  expect(production.executionId).toBe(staging.executionId);

  const jwks = createRemoteJWKSet(new URL(`${issuer.url}/.well-known/jwks.json`));
  const claims: Record<Instance, JWTPayload> = {
    staging: (await jwtVerify(staging.token, jwks, { issuer: issuer.url, audience: AUDIENCE }))
      .payload,
    production: (
      await jwtVerify(production.token, jwks, { issuer: issuer.url, audience: AUDIENCE })
    ).payload,
  };
  for (const key of Object.keys(ENGINES) as Instance[]) {
    expect(claims[key]).toMatchObject({
      engine: ENGINES[key].name,
      environment: ENGINES[key].environment,
      instance: ENGINES[key].instance,
      execution_id: staging.executionId,
      workflow_id: WORKFLOW_ID,
      // One workflow id in both databases: sub names the engine, so a verifier that matches
      // sub alone (an AWS trust policy) tells staging's workflow from production's.
      sub: `engine:${ENGINES[key].name}:workflow:${WORKFLOW_ID}`,
    });
  }

  // Each engine sees only its own execution, ended by its own instance.
  await until(async () => (await statusAt('production', production.executionId)) !== 'running');
  expect(await statusAt('staging', staging.executionId)).toBe('success');
  expect(await statusAt('production', production.executionId)).toBe('success');
  expect(issuer.logs()).not.toContain(TOKENS.staging);
  expect(issuer.logs()).not.toContain(TOKENS.production);
});
