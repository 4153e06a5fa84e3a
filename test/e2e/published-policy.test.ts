/**
 * The trust policy of docs/n8n.md, on a real OpenBao: a JWT auth role bound to
 * `published: true` and one `workflow_digest` lets in the published code it names, and
 * refuses a draft run of the same workflow and any other code.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { type OpenBao, OpenBaoError, startOpenBao } from '../peers/openbao.js';
import { type RunningIssuer, startIssuer } from './harness.js';

const DIGEST = `sha256:${'1f'.repeat(32)}`;
let bao: OpenBao;
let issuer: RunningIssuer;

beforeAll(async () => {
  bao = await startOpenBao();
  issuer = await startIssuer();
  await bao.api('POST', 'sys/auth/wfid', { type: 'jwt' });
  await bao.api('POST', 'auth/wfid/config', {
    jwks_url: `${issuer.url}/.well-known/jwks.json`,
    bound_issuer: issuer.url,
  });
  // As in docs/n8n.md: only the reviewed, published code of this workflow.
  await bao.api('POST', 'auth/wfid/role/payroll', {
    role_type: 'jwt',
    user_claim: 'sub',
    bound_audiences: ['openbao'],
    bound_claims: { workflow_id: 'wfidPayroll00001', published: true, workflow_digest: DIGEST },
    token_ttl: '5m',
  });
}, 60_000);

afterAll(async () => {
  await issuer?.stop();
  await bao?.close();
});

async function login(execution: Record<string, unknown>) {
  const started = await issuer.startExecution({ workflow_id: 'wfidPayroll00001', ...execution });
  const { value } = await issuer.mint(started.request_token, 'openbao');
  return bao.api<{ auth: { client_token: string } }>('POST', 'auth/wfid/login', {
    role: 'payroll',
    jwt: value,
  });
}

it('admits the published code it names and refuses its draft and any other code', async () => {
  const admitted = await login({ execution_id: 'pub-1', published: true, workflow_digest: DIGEST });
  expect(admitted.auth.client_token).toMatch(/^s\./);

  for (const [id, lineage] of [
    ['draft-1', { published: false, workflow_digest: DIGEST }],
    ['other-1', { published: true, workflow_digest: `sha256:${'2e'.repeat(32)}` }],
    ['none-1', {}],
  ] as const) {
    const refused = await login({ execution_id: id, ...lineage }).catch((error) => error);
    expect(refused, id).toBeInstanceOf(OpenBaoError);
    // OpenBao answers 400 naming the bound claim that did not match.
    expect((refused as OpenBaoError).status, id).toBe(400);
    const [reason] = (JSON.parse((refused as OpenBaoError).body) as { errors: string[] }).errors;
    expect(reason, id).toMatch(/claim "(published|workflow_digest)" (does not match|is missing)/);
  }
});
