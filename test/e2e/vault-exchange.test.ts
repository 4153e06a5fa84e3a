/**
 * The exchange: a running workflow proves who it is to OpenBao with its identity token (JWT
 * auth against our JWKS) and receives a short-lived X.509 certificate naming the workflow
 * (PKI), with no secret stored in the workflow. The issuer itself signs with OpenBao Transit.
 * The setup mirrors docs/recipes/openbao-exchange.md.
 */
import { X509Certificate } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type OpenBao, OpenBaoError, startOpenBao } from '../peers/openbao.js';
import { type RunningIssuer, startIssuer } from './harness.js';

const AUDIENCE = 'openbao';
const TRUST_DOMAIN = 'spiffe://wfid.test/workflow';
/** The rotating-issuer policy of docs/backends/vault-transit.md. */
const ISSUER_POLICY = `
path "transit/keys/wfid" { capabilities = ["read", "create", "update"] }
path "transit/sign/wfid" { capabilities = ["update"] }
path "transit/keys/wfid/rotate" { capabilities = ["update"] }
path "transit/keys/wfid/config" {
  capabilities = ["update"]
  allowed_parameters = { "min_encryption_version" = [] }
}
`;

let bao: OpenBao;
let issuer: RunningIssuer;
let caPem: string;

beforeAll(async () => {
  bao = await startOpenBao();
  await bao.api('POST', 'sys/mounts/transit', { type: 'transit' });
  await bao.api('PUT', 'sys/policies/acl/wfid-issuer', { policy: ISSUER_POLICY });
  const issuerToken = await bao.api<{ auth: { client_token: string } }>(
    'POST',
    'auth/token/create',
    {
      policies: ['wfid-issuer'],
      ttl: '1h',
    },
  );
  issuer = await startIssuer({
    env: {
      WFID_KEYS: 'hashivault://wfid',
      BAO_ADDR: bao.address,
      BAO_TOKEN: issuerToken.auth.client_token,
    },
  });

  // JWT auth trusting our issuer: its JWKS, its `iss`.
  await bao.api('POST', 'sys/auth/wfid', { type: 'jwt' });
  await bao.api('POST', 'auth/wfid/config', {
    jwks_url: `${issuer.url}/.well-known/jwks.json`,
    bound_issuer: issuer.url,
  });
  const mounts = await bao.api<{ data: Record<string, { accessor: string }> }>('GET', 'sys/auth');
  const accessor = mounts.data['wfid/']!.accessor;
  const workflowName = `{{identity.entity.aliases.${accessor}.name}}`;

  // PKI whose role only issues names of the workflow that logged in (the alias name is workflow_id).
  await bao.api('POST', 'sys/mounts/pki', { type: 'pki', config: { max_lease_ttl: '24h' } });
  const root = await bao.api<{ data: { certificate: string } }>(
    'POST',
    'pki/root/generate/internal',
    {
      common_name: 'Workflow Identity Test CA',
      ttl: '24h',
    },
  );
  caPem = root.data.certificate;
  await bao.api('POST', 'pki/roles/workflow', {
    allowed_domains: [workflowName],
    allowed_domains_template: true,
    allow_bare_domains: true,
    allowed_uri_sans: [`${TRUST_DOMAIN}/${workflowName}`],
    allowed_uri_sans_template: true,
    enforce_hostnames: false,
    server_flag: false,
    client_flag: true,
    key_type: 'ec',
    key_bits: 256,
    ttl: '5m',
    max_ttl: '10m',
  });
  await bao.api('PUT', 'sys/policies/acl/workflow-pki', {
    policy: 'path "pki/issue/workflow" { capabilities = ["update"] }',
  });
  await bao.api('POST', 'auth/wfid/role/billing', {
    role_type: 'jwt',
    user_claim: 'workflow_id',
    bound_audiences: [AUDIENCE],
    bound_claims: { workflow_id: 'wf-billing' },
    claim_mappings: { execution_id: 'execution_id' },
    token_policies: ['workflow-pki'],
    token_ttl: '5m',
    token_max_ttl: '10m',
    // OpenBao's default leeways (150 s on exp, 60 s skew) would hide the expiry test below.
    expiration_leeway: 1,
    clock_skew_leeway: 1,
  });
}, 120_000);

afterAll(async () => {
  await issuer?.stop();
  await bao?.close();
});

async function tokenFor(workflowId: string, audience = AUDIENCE, lifetimeS?: number) {
  const execution = await issuer.startExecution({ workflow_id: workflowId });
  const token = await issuer.mint(execution.request_token, audience, lifetimeS);
  return { execution, jwt: token.value };
}

/** What the workflow does: log in with its identity token, get a Vault token back. */
async function login(jwt: string): Promise<string> {
  const answer = await bao.api<{ auth: { client_token: string } }>(
    'POST',
    'auth/wfid/login',
    { role: 'billing', jwt },
    '',
  );
  return answer.auth.client_token;
}

async function refusedLogin(jwt: string): Promise<OpenBaoError> {
  const error = await login(jwt).catch((err) => err);
  expect(error).toBeInstanceOf(OpenBaoError);
  return error as OpenBaoError;
}

describe('workflow token -> OpenBao JWT login -> X.509 certificate', () => {
  it('a running workflow logs in and receives a short-lived certificate that names it', async () => {
    const { jwt } = await tokenFor('wf-billing');
    const vaultToken = await login(jwt);
    const issued = await bao.api<{ data: { certificate: string } }>(
      'POST',
      'pki/issue/workflow',
      { common_name: 'wf-billing', uri_sans: `${TRUST_DOMAIN}/wf-billing`, ttl: '5m' },
      vaultToken,
    );
    const cert = new X509Certificate(issued.data.certificate);
    expect(cert.subject).toContain('CN=wf-billing');
    expect(cert.subjectAltName).toContain(`URI:${TRUST_DOMAIN}/wf-billing`);
    expect(cert.verify(new X509Certificate(caPem).publicKey)).toBe(true);
    const lifetimeMs = new Date(cert.validTo).getTime() - Date.now();
    expect(lifetimeMs).toBeGreaterThan(60_000);
    expect(lifetimeMs).toBeLessThanOrEqual(5 * 60_000 + 1000);
  });

  it('the certificate can only name the workflow that logged in', async () => {
    const vaultToken = await login((await tokenFor('wf-billing')).jwt);
    const error = await bao
      .api('POST', 'pki/issue/workflow', { common_name: 'wf-payroll', ttl: '5m' }, vaultToken)
      .catch((err) => err);
    expect(error).toBeInstanceOf(OpenBaoError);
    expect((error as OpenBaoError).status).toBe(400);
  });

  it('refuses the token of another workflow (bound_claims)', async () => {
    const error = await refusedLogin((await tokenFor('wf-payroll')).jwt);
    expect(error.status).toBe(400);
    expect(error.body).toMatch(/bound claim/i);
  });

  it('refuses a token minted for another audience (bound_audiences)', async () => {
    const error = await refusedLogin(
      (await tokenFor('wf-billing', 'https://elsewhere.example')).jwt,
    );
    expect(error.status).toBe(400);
    expect(error.body).toMatch(/aud/i);
  });

  it('refuses an expired token', async () => {
    const { jwt } = await tokenFor('wf-billing', AUDIENCE, 1);
    await new Promise((resolve) => setTimeout(resolve, 4000));
    const error = await refusedLogin(jwt);
    expect(error.status).toBe(400);
    expect(error.body).toMatch(/expired/i);
  }, 20_000);

  it('liveness is ours to tell: after the execution ends OpenBao still accepts the token, introspection does not', async () => {
    const { execution, jwt } = await tokenFor('wf-billing');
    expect((await issuer.endExecution(execution.execution_id)).status).toBe(200);
    // OpenBao checks signature, iss, aud, exp and claims; it cannot know the execution ended.
    expect(await login(jwt)).toMatch(/\S/);
    // An identity proxy in front of the PKI asks the issuer, and refuses.
    const response = await issuer.fetch('/v1/introspect', {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ token: jwt }).toString(),
    });
    expect(await response.json()).toEqual({ active: false });
  });
});
