/**
 * The exchange: a running workflow proves who it is to OpenBao with its identity token (JWT
 * auth against our JWKS) and receives a short-lived X.509 certificate naming the workflow
 * (PKI), with no secret stored in the workflow. The issuer itself signs with OpenBao Transit.
 * The setup mirrors docs/recipes/openbao-exchange.md.
 */
import { generateKeyPairSync, X509Certificate } from 'node:crypto';
import { SignJWT } from 'jose';
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
  // The recipe's role: exactly the templated name, nothing OpenBao would allow by default.
  await bao.api('POST', 'pki/roles/workflow', {
    allowed_domains: [workflowName],
    allowed_domains_template: true,
    allow_bare_domains: true,
    allow_subdomains: false,
    allow_glob_domains: false,
    allow_wildcard_certificates: false,
    allow_localhost: false,
    allow_ip_sans: false,
    allow_any_name: false,
    enforce_hostnames: true,
    cn_validations: ['hostname'],
    allowed_uri_sans: [`${TRUST_DOMAIN}/${workflowName}`],
    allowed_uri_sans_template: true,
    server_flag: false,
    client_flag: true,
    key_usage: ['DigitalSignature'],
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
    // OpenBao accepts a JWT until exp + clock_skew_leeway (60 s unless set; expiration_leeway
    // does not count for JWT roles, see the leeway test below): 1 s keeps the expiry test short.
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

  it.each([
    ['another workflow', { common_name: 'wf-payroll' }],
    ['localhost', { common_name: 'localhost' }],
    ['localhost as a SAN', { common_name: 'wf-billing', alt_names: 'localhost' }],
    ['an IP SAN', { common_name: 'wf-billing', ip_sans: '10.0.0.1' }],
    ['a wildcard', { common_name: '*.wf-billing' }],
    ['a subdomain of its name', { common_name: 'x.wf-billing' }],
    ['an e-mail address at its name', { common_name: 'ops@wf-billing' }],
    [
      "another workflow's URI SAN",
      { common_name: 'wf-billing', uri_sans: `${TRUST_DOMAIN}/wf-payroll` },
    ],
    [
      'an other-name SAN',
      { common_name: 'wf-billing', other_sans: '1.3.6.1.4.1.311.20.2.3;utf8:a@b' },
    ],
  ])('a logged-in workflow cannot get a certificate for %s', async (_what, request) => {
    const vaultToken = await login((await tokenFor('wf-billing')).jwt);
    const error = await bao
      .api('POST', 'pki/issue/workflow', { ...request, ttl: '5m' }, vaultToken)
      .catch((err) => err);
    expect(error).toBeInstanceOf(OpenBaoError);
    expect((error as OpenBaoError).status).toBe(400);
    expect((error as OpenBaoError).body).toMatch(/not allowed|not valid/);
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

/**
 * What docs/recipes/openbao-exchange.md says about leeways, measured against this OpenBao: tokens
 * signed here with exp in the past (10 s margins, no waiting) on a JWT mount that trusts our key.
 */
describe("OpenBao's leeway on exp for JWT roles", () => {
  const key = generateKeyPairSync('ec', { namedCurve: 'P-256' });

  beforeAll(async () => {
    await bao.api('POST', 'sys/auth/leeway', { type: 'jwt' });
    await bao.api('POST', 'auth/leeway/config', {
      jwt_validation_pubkeys: [key.publicKey.export({ format: 'pem', type: 'spki' })],
      bound_issuer: 'https://leeway.test',
    });
  });

  async function acceptedAfterExp(secondsPastExp: number, role: Record<string, unknown>) {
    await bao.api('POST', 'auth/leeway/role/probe', {
      role_type: 'jwt',
      user_claim: 'sub',
      bound_audiences: [AUDIENCE],
      ...role,
    });
    const now = Math.floor(Date.now() / 1000);
    const jwt = await new SignJWT({})
      .setProtectedHeader({ alg: 'ES256' })
      .setIssuer('https://leeway.test')
      .setSubject('probe')
      .setAudience(AUDIENCE)
      .setIssuedAt(now - 600)
      .setExpirationTime(now - secondsPastExp)
      .sign(key.privateKey);
    return bao
      .api('POST', 'auth/leeway/login', { role: 'probe', jwt }, '')
      .then(() => true)
      .catch((err) => {
        if (!(err instanceof OpenBaoError) || !/token is expired/.test(err.body)) throw err;
        return false;
      });
  }

  it('is clock_skew_leeway, 60 s when unset', async () => {
    expect(await acceptedAfterExp(50, {})).toBe(true);
    expect(await acceptedAfterExp(70, {})).toBe(false);
    expect(await acceptedAfterExp(70, { clock_skew_leeway: 300 })).toBe(true);
    expect(await acceptedAfterExp(10, { clock_skew_leeway: 5 })).toBe(false);
  });

  it('expiration_leeway does not extend it (150 s is not the default, and a set value is ignored)', async () => {
    expect(await acceptedAfterExp(70, { expiration_leeway: 300 })).toBe(false);
    expect(await acceptedAfterExp(10, { expiration_leeway: 300, clock_skew_leeway: 5 })).toBe(
      false,
    );
  });
});
