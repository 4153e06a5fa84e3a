/**
 * Named engine credentials through the real `wfid serve`: each engine is a namespace of
 * executions, its name is the `engine` claim, and the claims its credential fixes cannot be
 * overridden by what it sends.
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createRemoteJWKSet, jwtVerify } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningIssuer, startIssuer } from './harness.js';

const PROD_TOKEN = `wfe_prod_${randomBytes(24).toString('base64url')}`;
const DEV_TOKEN = `wfe_dev_${randomBytes(24).toString('base64url')}`;

describe('named engine credentials end to end', () => {
  let issuer: RunningIssuer;
  let configDir: string;

  beforeAll(async () => {
    configDir = await mkdtemp(join(tmpdir(), 'wfid-engines-'));
    const config = join(configDir, 'wfid.yaml');
    await writeFile(
      config,
      [
        'engines:',
        '  - {name: n8n-prod, token: "env:PROD_TOKEN", environment: prod, instance: main-1}',
        '  - {name: n8n-dev, token: "env:DEV_TOKEN"}',
        // Several engines: sub must say which one (start-up refuses a template that does not).
        'tokens: {subject: "engine:{engine}:workflow:{workflow_id}"}',
      ].join('\n'),
    );
    // WFID_ENGINE_TOKEN (from the harness) stays the default engine beside the named ones.
    issuer = await startIssuer({
      env: { WFID_CONFIG: config, PROD_TOKEN, DEV_TOKEN },
    });
  });
  afterAll(async () => {
    await issuer?.stop();
    if (configDir) await rm(configDir, { recursive: true, force: true });
  });

  const as = (token: string) => ({
    register: (body: Record<string, unknown>) =>
      issuer.fetch('/v1/executions', {
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        body: JSON.stringify(body),
      }),
    get: (id: string) =>
      issuer.fetch(`/v1/executions/${encodeURIComponent(id)}`, {
        headers: { authorization: `Bearer ${token}` },
      }),
    end: (id: string, status = 'success') =>
      issuer.fetch(`/v1/executions/${encodeURIComponent(id)}/end`, {
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        body: JSON.stringify({ status }),
      }),
  });
  const prod = as(PROD_TOKEN);
  const dev = as(DEV_TOKEN);
  const byDefault = () => as(issuer.engineToken);
  const introspect = async (token: string) =>
    (await (
      await issuer.fetch('/v1/introspect', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ token }),
      })
    ).json()) as Record<string, unknown>;

  it('lists engine among the supported claims', async () => {
    const discovery = (await (await issuer.fetch('/.well-known/openid-configuration')).json()) as {
      claims_supported: string[];
    };
    expect(discovery.claims_supported).toContain('engine');
  });

  it('lets two engines register the same execution id; neither sees, ends or takes over the other', async () => {
    const jwks = createRemoteJWKSet(new URL(`${issuer.url}/.well-known/jwks.json`));
    const a = await prod.register({ execution_id: 'shared-1', workflow_id: 'wf-prod' });
    const b = await dev.register({ execution_id: 'shared-1', workflow_id: 'wf-dev' });
    expect([a.status, b.status]).toEqual([201, 201]);
    const started = {
      prod: (await a.json()) as { env: Record<string, string>; request_token: string },
      dev: (await b.json()) as { env: Record<string, string>; request_token: string },
    };
    const prodToken = (await jwtVerify(started.prod.env.WORKFLOW_ID_TOKEN!, jwks)).payload;
    const devToken = (await jwtVerify(started.dev.env.WORKFLOW_ID_TOKEN!, jwks)).payload;
    expect(prodToken).toMatchObject({
      engine: 'n8n-prod',
      execution_id: 'shared-1',
      workflow_id: 'wf-prod',
      environment: 'prod',
      instance: 'main-1',
    });
    expect(devToken).toMatchObject({ engine: 'n8n-dev', workflow_id: 'wf-dev' });
    expect([prodToken.sub, devToken.sub]).toEqual([
      'engine:n8n-prod:workflow:wf-prod',
      'engine:n8n-dev:workflow:wf-dev',
    ]);
    expect(devToken.environment).toBeUndefined();

    // The default engine (WFID_ENGINE_TOKEN) has its own namespace too.
    expect((await byDefault().get('shared-1')).status).toBe(404);
    expect((await byDefault().end('shared-1')).status).toBe(404);
    expect(await (await prod.get('shared-1')).json()).toMatchObject({
      engine: 'n8n-prod',
      workflow_id: 'wf-prod',
    });

    // dev ends its own; prod's execution, tokens and request token stay live.
    expect((await dev.end('shared-1', 'canceled')).status).toBe(200);
    expect(await introspect(started.dev.env.WORKFLOW_ID_TOKEN!)).toEqual({ active: false });
    expect(await introspect(started.prod.env.WORKFLOW_ID_TOKEN!)).toMatchObject({
      active: true,
      engine: 'n8n-prod',
    });
    const minted = await issuer.mint(started.prod.request_token, 'aud');
    expect((await jwtVerify(minted.value, jwks)).payload).toMatchObject({ engine: 'n8n-prod' });
    expect((await issuer.mintResponse(started.dev.request_token, 'aud')).status).toBe(401);
    // A repeat registration is idempotent within the engine; dev's ended one stays ended.
    expect((await prod.register({ execution_id: 'shared-1', workflow_id: 'wf-prod' })).status).toBe(
      200,
    );
    expect((await dev.register({ execution_id: 'shared-1', workflow_id: 'wf-dev' })).status).toBe(
      409,
    );
    expect((await prod.end('shared-1')).status).toBe(200);
    expect(await introspect(minted.value)).toEqual({ active: false });
  });

  it('refuses a request that overrides a claim the credential fixes, naming the field, and stores nothing', async () => {
    for (const [field, value] of [
      ['environment', 'dev'],
      ['instance', 'other'],
    ]) {
      const response = await prod.register({
        execution_id: 'liar-1',
        workflow_id: 'wf',
        [field]: value,
      });
      expect(response.status).toBe(400);
      const body = (await response.json()) as Record<string, string>;
      expect(body.error).toBe('invalid_request');
      expect(body.error_description).toMatch(
        new RegExp(`^${field}: fixed by the engine credential`),
      );
    }
    expect((await prod.get('liar-1')).status).toBe(404);
    // Saying the fixed value itself is not a lie.
    expect(
      (await prod.register({ execution_id: 'honest-1', workflow_id: 'wf', environment: 'prod' }))
        .status,
    ).toBe(201);
  });
});

describe('engine token strength at start-up', () => {
  it('wfid serve refuses a short engine token with one line saying why, without echoing it', async () => {
    const short = 'tiny-secret';
    const failure = await startIssuer({
      env: { WFID_ENGINE_TOKEN: short },
      timeoutMs: 20_000,
    }).then(
      async (issuer) => {
        await issuer.stop();
        return undefined;
      },
      (err: Error) => err.message,
    );
    expect(failure).toMatch(/wfid serve exited with 1/);
    expect(failure).toMatch(
      /engine_tokens\.0 \(WFID_ENGINE_TOKEN\): at least 32 characters: an engine token is a shared secret that must resist guessing/,
    );
    expect(failure).not.toContain(short);
  });
});
