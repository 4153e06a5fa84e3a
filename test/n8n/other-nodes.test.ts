/**
 * Identities other nodes use, in a real n8n, with nobody handling tokens: an HTTP Request node
 * sends the execution's token as a bearer credential (it verifies through the JWKS, and a
 * credential stored naming another execution still gets only its own), an HTTP Request node
 * calls AWS as a role assumed with the token (a real LocalStack STS), and a Code node, which
 * runs in n8n's task runner (another process), gets the token from the node before it.
 */
import { writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { createRemoteJWKSet, jwtVerify } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningIssuer, startIssuer, until } from '../e2e/harness.js';
import { type LocalStack, startLocalStack } from '../peers/localstack.js';
import { buildIntegration, type RunningN8n, startN8n } from '../peers/n8n.js';
import { chain, idsNode, node, tokenNode, webhook } from './workflows.js';

const AUDIENCE = 'https://api.wfid.test';
const ROLE_ARN = 'arn:aws:iam::000000000000:role/n8n-wfid-test';

let issuer: RunningIssuer;
let n8n: RunningN8n;
let localstack: LocalStack;
let echo: Server;
let echoUrl: string;
let jwks: ReturnType<typeof createRemoteJWKSet>;

const bearerCredential = { id: 'wfidBearerCred01', name: 'Identity bearer' };
/** Stored naming another execution, as someone could through n8n's API. */
const forgedCredential = { id: 'wfidBearerCred02', name: 'Identity bearer (forged)' };
const awsCredential = { id: 'wfidAwsRoleCred1', name: 'Identity AWS role' };

function httpRequest(name: string, parameters: object, credential: { id: string; name: string }) {
  const type = credential === awsCredential ? 'workflowIdentityAws' : 'workflowIdentityBearer';
  return node(
    name,
    'n8n-nodes-base.httpRequest',
    4.2,
    {
      authentication: 'predefinedCredentialType',
      nodeCredentialType: type,
      options: {},
      ...parameters,
    },
    { credentials: { [type]: credential } },
  );
}

const workflows = () => [
  {
    id: 'wfidBearerDemo01',
    name: 'Bearer demo',
    settings: { executionOrder: 'v1' },
    nodes: [
      webhook('wfid-bearer'),
      httpRequest('Call', { method: 'GET', url: `${echoUrl}/echo` }, bearerCredential),
      idsNode,
    ],
    connections: chain('Webhook', 'Call', 'Ids'),
  },
  {
    id: 'wfidBearerForge1',
    name: 'Bearer forged',
    settings: { executionOrder: 'v1' },
    nodes: [
      webhook('wfid-bearer-forged'),
      httpRequest('Call', { method: 'GET', url: `${echoUrl}/echo` }, forgedCredential),
      idsNode,
    ],
    connections: chain('Webhook', 'Call', 'Ids'),
  },
  {
    id: 'wfidAwsRoleDemo1',
    name: 'AWS role demo',
    settings: { executionOrder: 'v1' },
    nodes: [
      webhook('wfid-aws'),
      httpRequest(
        'Call',
        {
          method: 'POST',
          url: `${localstack.endpoint}/`,
          sendBody: true,
          contentType: 'form-urlencoded',
          bodyParameters: {
            parameters: [
              { name: 'Action', value: 'GetCallerIdentity' },
              { name: 'Version', value: '2011-06-15' },
            ],
          },
          options: { response: { response: { responseFormat: 'text' } } },
        },
        awsCredential,
      ),
      idsNode,
    ],
    connections: chain('Webhook', 'Call', 'Ids'),
  },
  {
    id: 'wfidCodeNodeDemo',
    name: 'Code node demo',
    settings: { executionOrder: 'v1' },
    nodes: [
      webhook('wfid-code'),
      tokenNode(AUDIENCE, {}, { onError: 'stopWorkflow' }),
      node('Code', 'n8n-nodes-base.code', 2, {
        jsCode: [
          "const token = $('Token').first().json.token;",
          "const part = token.split('.')[1].replace(/-/g, '+').replace(/_/g, '/');",
          'const claims = JSON.parse(atob(part));',
          'return [{ json: { token_in_code: token, execution_in_code: claims.execution_id } }];',
        ].join('\n'),
      }),
      idsNode,
    ],
    connections: chain('Webhook', 'Token', 'Code', 'Ids'),
  },
];

beforeAll(async () => {
  await buildIntegration();
  echo = createServer((request, response) => {
    response.writeHead(200, { 'content-type': 'application/json' });
    response.end(JSON.stringify({ authorization: request.headers.authorization ?? null }));
  });
  await new Promise<void>((done) => echo.listen(0, '127.0.0.1', done));
  echoUrl = `http://127.0.0.1:${(echo.address() as AddressInfo).port}`;
  [issuer, localstack] = await Promise.all([startIssuer(), startLocalStack('sts,iam')]);
  jwks = createRemoteJWKSet(new URL(`${issuer.url}/.well-known/jwks.json`));
  // LocalStack loads its STS provider on the first call, which can take longer than the
  // credential's 10 s STS timeout on a busy machine: make that first call here.
  await fetch(`${localstack.endpoint}/`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: 'Action=GetCallerIdentity&Version=2011-06-15',
    signal: AbortSignal.timeout(60_000),
  });
  n8n = await startN8n({
    env: { WFID_ISSUER_URL: issuer.url, WFID_ENGINE_TOKEN: issuer.engineToken },
    prepare: async (cli, userFolder) => {
      const credentials = [
        { ...bearerCredential, type: 'workflowIdentityBearer', data: { audience: AUDIENCE } },
        {
          ...forgedCredential,
          type: 'workflowIdentityBearer',
          data: { audience: AUDIENCE, executionId: '1', executionProof: 'forged' },
        },
        {
          ...awsCredential,
          type: 'workflowIdentityAws',
          data: {
            roleArn: ROLE_ARN,
            region: 'us-east-1',
            audience: 'sts.amazonaws.com',
            stsEndpoint: localstack.endpoint,
            service: 'sts',
          },
        },
      ];
      const credentialsFile = join(userFolder, 'credentials.json');
      await writeFile(credentialsFile, JSON.stringify(credentials));
      await cli('import:credentials', `--input=${credentialsFile}`);
      for (const workflow of workflows()) {
        const file = join(userFolder, `${workflow.id}.json`);
        await writeFile(file, JSON.stringify(workflow));
        await cli('import:workflow', `--input=${file}`);
        await cli('publish:workflow', `--id=${workflow.id}`);
      }
    },
  });
  // Published workflows' webhooks go live shortly after n8n reports ready.
  await until(async () => {
    const response = await fetch(`${n8n.url}/webhook/wfid-code`).catch(() => undefined);
    return response !== undefined && response.status !== 404;
  }, 30_000);
}, 300_000);

afterAll(async () => {
  await n8n?.stop();
  await issuer?.stop();
  await localstack?.close();
  await new Promise((done) => echo?.close(done));
});

async function call(path: string) {
  const response = await fetch(`${n8n.url}/webhook/${path}`);
  expect(response.status, n8n.logs().slice(-4000)).toBe(200);
  return (await response.json()) as Record<string, string>;
}

describe('identities other n8n nodes use', () => {
  it('HTTP Request sends the execution’s token as a bearer credential that verifies through the JWKS', async () => {
    const item = await call('wfid-bearer');
    const bearer = /^Bearer (.+)$/.exec(item.authorization ?? '')?.[1];
    expect(bearer, JSON.stringify(item)).toBeDefined();
    const { payload } = await jwtVerify(bearer!, jwks, { issuer: issuer.url, audience: AUDIENCE });
    expect(payload).toMatchObject({
      execution_id: item.n8n_execution_id,
      workflow_id: 'wfidBearerDemo01',
      published: true,
    });
  });

  it('a credential stored naming another execution still gets only its own execution’s token', async () => {
    const item = await call('wfid-bearer-forged');
    const bearer = /^Bearer (.+)$/.exec(item.authorization ?? '')?.[1];
    const { payload } = await jwtVerify(bearer!, jwks, { audience: AUDIENCE });
    expect(payload.execution_id).toBe(item.n8n_execution_id);
    expect(payload.execution_id).not.toBe('1');
    expect(payload.workflow_id).toBe('wfidBearerForge1');
  });

  it('HTTP Request calls AWS as the role assumed with the token (LocalStack STS)', async () => {
    const item = await call('wfid-aws');
    // GetCallerIdentity, signed with the role session's keys, names that session.
    expect(item.data, JSON.stringify(item)).toContain(
      `assumed-role/n8n-wfid-test/n8n-${item.n8n_execution_id}`,
    );
    expect(localstack.logs()).toContain('AssumeRoleWithWebIdentity');
  });

  it('a Code node (task runner) reads the token the node before it minted', async () => {
    const item = await call('wfid-code');
    expect(item.execution_in_code).toBe(item.n8n_execution_id);
    const { payload } = await jwtVerify(item.token_in_code!, jwks, { audience: AUDIENCE });
    expect(payload.workflow_id).toBe('wfidCodeNodeDemo');
  });

  it('never writes a token or the engine token to n8n logs', () => {
    expect(n8n.logs()).not.toContain(issuer.engineToken);
    expect(n8n.logs()).not.toMatch(/eyJ[\w-]+\.eyJ[\w-]+\./);
  });
});
