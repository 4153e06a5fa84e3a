/**
 * Regressions of issue 13's engine API items through the real `wfid serve`: sub template values
 * (6), all-or-nothing registration (7), repeat registrations (8), the derived issuer (14).
 * Engine namespaces are in engines.test.ts; 413 and /readyz in issuer.test.ts.
 */
import { createRemoteJWKSet, jwtVerify } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningIssuer, startIssuer } from './harness.js';

describe('engine API hardening end to end', () => {
  let issuer: RunningIssuer;

  beforeAll(async () => {
    issuer = await startIssuer({
      env: {
        // No WFID_ISSUER: derived from WFID_HOST and WFID_PORT (item 14).
        WFID_ISSUER: '',
        WFID_TOKENS_SUBJECT: 'repo:{project_id}:env:{environment}',
        WFID_TOKENS_EXTRA_CLAIMS: 'team',
      },
    });
  });
  afterAll(async () => issuer?.stop());

  const lookup = (id: string) =>
    issuer.fetch(`/v1/executions/${id}`, {
      headers: { authorization: `Bearer ${issuer.engineToken}` },
    });
  const refused = async (response: Response, status: number, error: string) => {
    expect(response.status).toBe(status);
    const body = (await response.json()) as { error: string; error_description: string };
    expect(body.error).toBe(error);
    return body.error_description;
  };

  it('derives the issuer from the address it listens on', async () => {
    const discovery = (await (await issuer.fetch('/.well-known/openid-configuration')).json()) as {
      issuer: string;
      jwks_uri: string;
    };
    expect(discovery.issuer).toBe(issuer.url);
    expect(discovery.jwks_uri).toBe(`${issuer.url}/.well-known/jwks.json`);
    const started = await issuer.startExecution({ project_id: 'shop', environment: 'dev' });
    expect(started.request_url).toBe(`${issuer.url}/v1/token`);
    const jwks = createRemoteJWKSet(new URL(discovery.jwks_uri));
    const { payload } = await jwtVerify(started.env.WORKFLOW_ID_TOKEN!, jwks, {
      issuer: issuer.url,
      audience: issuer.url,
    });
    expect(payload.sub).toBe('repo:shop:env:dev');
  });

  it('refuses sub values that would leave their slot, naming the field, and stores nothing', async () => {
    const cases: [Record<string, unknown>, string][] = [
      [{ project_id: 'shop:env:prod', environment: 'dev' }, 'project_id: contains ":"'],
      [{ project_id: 'shop' }, 'environment: required by the sub template'],
    ];
    for (const [index, [fields, description]] of cases.entries()) {
      const id = `sub-${index}`;
      // Retried: every attempt is refused and leaves nothing behind.
      for (let attempt = 0; attempt < 2; attempt++) {
        const response = await issuer.registerResponse({
          execution_id: id,
          workflow_id: 'wf',
          ...fields,
        });
        expect(await refused(response, 400, 'invalid_request')).toContain(description);
      }
      expect((await lookup(id)).status).toBe(404);
    }
  });

  it('repeats of a running registration: same or subset 200, another value 409 naming the field', async () => {
    const body = {
      execution_id: 'repeat-1',
      workflow_id: 'wf',
      workflow_name: 'Nightly',
      project_id: 'shop',
      environment: 'dev',
      claims: { team: 'data' },
      max_duration_s: 600,
    };
    expect((await issuer.registerResponse(body)).status).toBe(201);
    expect((await issuer.registerResponse(body)).status).toBe(200);
    const subset = await issuer.registerResponse({
      execution_id: 'repeat-1',
      workflow_id: 'wf',
      project_id: 'shop',
      environment: 'dev',
    });
    expect(subset.status).toBe(200);
    for (const [change, field] of [
      [{ workflow_name: 'Daily' }, 'workflow_name'],
      [{ owner: 'mallory' }, 'owner'],
      [{ claims: { team: 'ops' } }, 'claims.team'],
      [{ max_duration_s: 60 }, 'max_duration_s'],
      [{ workflow_digest: `sha256:${'0'.repeat(64)}` }, 'workflow_digest'],
    ] as const) {
      const response = await issuer.registerResponse({ ...body, ...change });
      expect(await refused(response, 409, 'conflict')).toMatch(new RegExp(`^${field}: `));
    }
    expect(await (await lookup('repeat-1')).json()).toMatchObject({ status: 'running' });
  });
});
