import { createHmac, createPublicKey, randomBytes } from 'node:crypto';
import { createRemoteJWKSet, jwtVerify } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningIssuer, startIssuer } from './harness.js';

/** The whole path on embedded defaults: register, mint, verify from outside, end, refused. */
describe('issuer end to end (file backend, SQLite store)', () => {
  let issuer: RunningIssuer;
  let jwks: ReturnType<typeof createRemoteJWKSet>;

  beforeAll(async () => {
    issuer = await startIssuer({ env: { WFID_TOKENS_EXTRA_CLAIMS: 'team' } });
    jwks = createRemoteJWKSet(new URL(`${issuer.url}/.well-known/jwks.json`));
  });
  afterAll(async () => issuer?.stop());

  const introspect = async (token: string, form = true) => {
    const response = await issuer.fetch('/v1/introspect', {
      method: 'POST',
      headers: { 'content-type': form ? 'application/x-www-form-urlencoded' : 'application/json' },
      body: form ? new URLSearchParams({ token }).toString() : JSON.stringify({ token }),
    });
    expect(response.status).toBe(200);
    return (await response.json()) as Record<string, unknown>;
  };

  const expectError = async (response: Response, status: number, error: string) => {
    expect(response.status).toBe(status);
    const body = (await response.json()) as Record<string, unknown>;
    expect(body.error).toBe(error);
    expect(typeof body.error_description).toBe('string');
    expect(JSON.stringify(body)).not.toMatch(/at .*\.(ts|js):\d+/);
    return body;
  };

  it('serves discovery that points at its JWKS and introspection endpoint', async () => {
    const response = await issuer.fetch('/.well-known/openid-configuration');
    const discovery = (await response.json()) as Record<string, unknown>;
    expect(discovery.issuer).toBe(issuer.url);
    expect(discovery.jwks_uri).toBe(`${issuer.url}/.well-known/jwks.json`);
    expect(discovery.introspection_endpoint).toBe(`${issuer.url}/v1/introspect`);
    expect(discovery.id_token_signing_alg_values_supported).toContain('ES256');
    expect(discovery.claims_supported).toContain('team');
    expect(discovery.claims_supported).toEqual(
      expect.arrayContaining([
        'workflow_digest',
        'published',
        'parent_execution_id',
        'parent_workflow_id',
        'root_execution_id',
        'root_workflow_id',
      ]),
    );
    expect(discovery.subject_types_supported).toEqual(['public']);
    expect(discovery.response_types_supported).toEqual(['id_token']);
  });

  it('serves a JWKS of public members only, with Cache-Control and ETag (304 on match)', async () => {
    const response = await issuer.fetch('/.well-known/jwks.json');
    expect(response.headers.get('cache-control')).toBe('public, max-age=600');
    const etag = response.headers.get('etag')!;
    const { keys } = (await response.json()) as { keys: Record<string, string>[] };
    expect(keys).toHaveLength(1);
    expect(keys[0]).toMatchObject({ kty: 'EC', crv: 'P-256', alg: 'ES256', use: 'sig' });
    expect(keys[0]!.d).toBeUndefined();
    expect(Object.keys(keys[0]!).sort()).toEqual(['alg', 'crv', 'kid', 'kty', 'use', 'x', 'y']);
    const again = await issuer.fetch('/.well-known/jwks.json', {
      headers: { 'if-none-match': etag },
    });
    expect(again.status).toBe(304);
  });

  it('registers an execution, hands it a token and a request token, and mints fresh tokens on request', async () => {
    const started = await issuer.startExecution({
      execution_id: 'exec-e2e-1',
      workflow_id: 'wf-42',
      workflow_name: 'Nightly sync',
      mode: 'trigger',
      claims: { team: 'data' },
    });
    expect(started.status).toBe('running');
    expect(started.request_url).toBe(`${issuer.url}/v1/token`);
    expect(Object.keys(started.env).sort()).toEqual([
      'WORKFLOW_ID_TOKEN',
      'WORKFLOW_ID_TOKEN_REQUEST_TOKEN',
      'WORKFLOW_ID_TOKEN_REQUEST_URL',
    ]);
    const envToken = await jwtVerify(started.env.WORKFLOW_ID_TOKEN!, jwks, {
      issuer: issuer.url,
      audience: issuer.url,
    });
    expect(envToken.payload.sub).toBe('workflow:wf-42');

    const first = await issuer.mint(started.request_token, 'https://sts.amazonaws.com');
    const second = await issuer.mint(started.request_token, 'https://sts.amazonaws.com');
    expect(first.value).not.toBe(second.value);
    const { payload, protectedHeader } = await jwtVerify(first.value, jwks, {
      issuer: issuer.url,
      audience: 'https://sts.amazonaws.com',
      algorithms: ['ES256'],
    });
    expect(protectedHeader.typ).toBe('JWT');
    expect(payload).toMatchObject({
      sub: 'workflow:wf-42',
      execution_id: 'exec-e2e-1',
      workflow_id: 'wf-42',
      workflow_name: 'Nightly sync',
      mode: 'trigger',
      team: 'data',
    });
    expect(payload.exp! - payload.iat!).toBe(600);
    expect(payload.nbf).toBeLessThan(payload.iat!);
    expect(first.expires_at).toBe(payload.exp);

    const viaGet = await issuer.fetch(`/v1/token?audience=${encodeURIComponent('vault')}`, {
      headers: { authorization: `Bearer ${started.request_token}` },
    });
    expect(viaGet.status).toBe(200);
    const { value } = (await viaGet.json()) as { value: string };
    expect((await jwtVerify(value, jwks, { audience: 'vault' })).payload.jti).not.toBe(payload.jti);

    const active = await introspect(first.value);
    expect(active).toMatchObject({
      active: true,
      execution_id: 'exec-e2e-1',
      execution_status: 'running',
    });
    expect(await introspect(first.value, false)).toMatchObject({ active: true });
  });

  it('carries what ran and who called it (digest, published, parent and root) into tokens', async () => {
    const digest = `sha256:${'ab'.repeat(32)}`;
    const started = await issuer.startExecution({
      execution_id: 'exec-e2e-lineage',
      workflow_id: 'payroll',
      workflow_digest: digest,
      published: false,
      parent_execution_id: 'exec-e2e-parent',
      parent_workflow_id: 'caller',
      root_execution_id: 'exec-e2e-parent',
      root_workflow_id: 'caller',
    });
    const { value } = await issuer.mint(started.request_token, 'vault');
    const { payload } = await jwtVerify(value, jwks, { audience: 'vault' });
    expect(payload).toMatchObject({
      workflow_id: 'payroll',
      workflow_digest: digest,
      published: false,
      parent_execution_id: 'exec-e2e-parent',
      parent_workflow_id: 'caller',
      root_execution_id: 'exec-e2e-parent',
      root_workflow_id: 'caller',
    });
  });

  it('caps lifetime_s at tokens.max_lifetime and accepts an array audience', async () => {
    const started = await issuer.startExecution();
    const token = await issuer.mint(started.request_token, ['a', 'b'], 999_999);
    const { payload } = await jwtVerify(token.value, jwks, { audience: 'b' });
    expect(payload.aud).toEqual(['a', 'b']);
    expect(payload.exp! - payload.iat!).toBe(3600);
  });

  it('once the execution ends: its tokens introspect inactive and its request token is refused', async () => {
    const started = await issuer.startExecution({ execution_id: 'exec-e2e-end' });
    const token = await issuer.mint(started.request_token, 'aud');
    const ended = await issuer.endExecution('exec-e2e-end', 'error');
    expect(ended.status).toBe(200);
    expect(await ended.json()).toMatchObject({ execution_id: 'exec-e2e-end', status: 'error' });
    expect(await introspect(token.value)).toEqual({ active: false });
    const refused = await issuer.fetch('/v1/token', {
      method: 'POST',
      headers: {
        authorization: `Bearer ${started.request_token}`,
        'content-type': 'application/json',
      },
      body: JSON.stringify({ audience: 'aud' }),
    });
    await expectError(refused, 401, 'invalid_token');
    const lookup = await issuer.fetch('/v1/executions/exec-e2e-end', {
      headers: { authorization: `Bearer ${issuer.engineToken}` },
    });
    expect(await lookup.json()).toMatchObject({ status: 'error', ended_at: expect.any(String) });
    // Ending again is idempotent and keeps the first status.
    expect(await (await issuer.endExecution('exec-e2e-end', 'success')).json()).toMatchObject({
      status: 'error',
    });
    // Registering an ended execution again is refused.
    const restart = await issuer.registerResponse({
      execution_id: 'exec-e2e-end',
      workflow_id: 'wf-1',
    });
    await expectError(restart, 409, 'execution_ended');
  });

  it('registering a running execution again is idempotent: 200, a new request token, old one still valid', async () => {
    const first = await issuer.startExecution({ execution_id: 'exec-e2e-dup' });
    const response = await issuer.registerResponse({
      execution_id: 'exec-e2e-dup',
      workflow_id: 'wf-1',
    });
    expect(response.status).toBe(200);
    const second = (await response.json()) as { request_token: string };
    expect(second.request_token).not.toBe(first.request_token);
    await issuer.mint(first.request_token, 'x');
    await issuer.mint(second.request_token, 'x');
    const conflict = await issuer.registerResponse({
      execution_id: 'exec-e2e-dup',
      workflow_id: 'another-workflow',
    });
    await expectError(conflict, 409, 'conflict');
  });

  describe('bad input gets a clear error, never a 500 or a leak', () => {
    it('engine routes: missing or wrong engine token', async () => {
      await expectError(
        await issuer.fetch('/v1/executions', { method: 'POST' }),
        401,
        'unauthorized',
      );
      const wrong = await issuer.fetch('/v1/executions', {
        method: 'POST',
        headers: { authorization: 'Bearer nope', 'content-type': 'application/json' },
        body: '{}',
      });
      await expectError(wrong, 401, 'unauthorized');
    });

    it('engine routes: malformed, oversized and invalid bodies; unknown execution', async () => {
      const post = (body: string, type = 'application/json') =>
        issuer.fetch('/v1/executions', {
          method: 'POST',
          headers: { authorization: `Bearer ${issuer.engineToken}`, 'content-type': type },
          body,
        });
      await expectError(await post('{not json'), 400, 'invalid_request');
      // Larger than http.body_limit (16 KiB): 413, as JSON and as a form.
      const oversized = await expectError(
        await post(JSON.stringify({ execution_id: 'x'.repeat(40_000), workflow_id: 'w' })),
        413,
        'invalid_request',
      );
      expect(oversized.error_description).toBe(
        'request body larger than http.body_limit (16384 bytes)',
      );
      await expectError(
        await issuer.fetch('/v1/introspect', {
          method: 'POST',
          headers: { 'content-type': 'application/x-www-form-urlencoded' },
          body: `token=${'a'.repeat(40_000)}`,
        }),
        413,
        'invalid_request',
      );
      // Within the limit, a too-long id is a plain 400.
      await expectError(
        await post(JSON.stringify({ execution_id: 'x'.repeat(4_000), workflow_id: 'w' })),
        400,
        'invalid_request',
      );
      await expectError(await post(JSON.stringify({ workflow_id: 'w' })), 400, 'invalid_request');
      await expectError(
        await post(JSON.stringify({ execution_id: '../etc', workflow_id: 'w' })),
        400,
        'invalid_request',
      );
      await expectError(
        await post(
          JSON.stringify({ execution_id: 'e', workflow_id: 'w', claims: { sub: 'root' } }),
        ),
        400,
        'invalid_request',
      );
      await expectError(
        await post(JSON.stringify({ execution_id: 'e', workflow_id: 'w', claims: { other: 'x' } })),
        400,
        'invalid_request',
      );
      // What ran is set only through the engine's own fields, and only in its own shape.
      for (const body of [
        { claims: { published: true } },
        { claims: { workflow_digest: `sha256:${'0'.repeat(64)}` } },
        { workflow_digest: 'md5:abc' },
        { published: 'true' },
        { parent_execution_id: '../x' },
      ]) {
        await expectError(
          await post(JSON.stringify({ execution_id: 'e', workflow_id: 'w', ...body })),
          400,
          'invalid_request',
        );
      }
      await expectError(await post('<xml/>', 'application/xml'), 400, 'invalid_request');
      const unknown = await issuer.fetch('/v1/executions/does-not-exist', {
        headers: { authorization: `Bearer ${issuer.engineToken}` },
      });
      await expectError(unknown, 404, 'not_found');
      await expectError(await issuer.endExecution('does-not-exist'), 404, 'not_found');
      await expectError(
        await issuer.endExecution('exec-e2e-1', 'finished'),
        400,
        'invalid_request',
      );
    });

    it('token route: missing, malformed and unknown request tokens; bad audience and lifetime', async () => {
      const mint = (authorization: string | undefined, body: unknown) =>
        issuer.fetch('/v1/token', {
          method: 'POST',
          headers: {
            ...(authorization ? { authorization } : {}),
            'content-type': 'application/json',
          },
          body: JSON.stringify(body),
        });
      await expectError(await mint(undefined, { audience: 'a' }), 401, 'invalid_token');
      await expectError(await mint('Bearer garbage', { audience: 'a' }), 401, 'invalid_token');
      await expectError(
        await mint(`Bearer wfr_${'A'.repeat(59)}`, { audience: 'a' }),
        401,
        'invalid_token',
      );
      const started = await issuer.startExecution();
      const auth = `Bearer ${started.request_token}`;
      // Token ids begin with their issue time, so an id is easy to guess: it alone opens nothing.
      const id = started.request_token.slice(0, 'wfr_'.length + 16);
      const otherSecret = randomBytes(32).toString('base64url');
      await expectError(
        await mint(`Bearer ${id}${otherSecret}`, { audience: 'a' }),
        401,
        'invalid_token',
      );
      await expectError(await mint(auth, {}), 400, 'invalid_request');
      await expectError(await mint(auth, { audience: [] }), 400, 'invalid_request');
      await expectError(
        await mint(auth, { audience: 'a', lifetime_s: -5 }),
        400,
        'invalid_request',
      );
      await expectError(
        await mint(auth, { audience: 'a', lifetime_s: 'soon' }),
        400,
        'invalid_request',
      );
    });

    it('introspection answers inactive for every kind of bad token, never 500', async () => {
      const started = await issuer.startExecution();
      const good = (await issuer.mint(started.request_token, 'aud')).value;
      const [header, payload, signature] = good.split('.') as [string, string, string];
      const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
      const decodedHeader = JSON.parse(Buffer.from(header, 'base64url').toString());
      const claims = JSON.parse(Buffer.from(payload, 'base64url').toString());

      // An HS256 token keyed with our own public key (the classic algorithm-confusion attack).
      const jwk = (
        (await (await issuer.fetch('/.well-known/jwks.json')).json()) as { keys: object[] }
      ).keys[0]!;
      const pem = createPublicKey({ key: jwk as never, format: 'jwk' }).export({
        type: 'spki',
        format: 'pem',
      });
      const hsInput = `${b64({ ...decodedHeader, alg: 'HS256' })}.${payload}`;
      const hs256 = `${hsInput}.${createHmac('sha256', pem).update(hsInput).digest('base64url')}`;

      const bad = {
        malformed: 'not-a-jwt',
        empty: '',
        alg_none: `${b64({ alg: 'none', typ: 'JWT' })}.${payload}.`,
        hs256,
        unknown_kid: `${b64({ ...decodedHeader, kid: 'unknown' })}.${payload}.${signature}`,
        tampered: `${header}.${b64({ ...claims, workflow_id: 'other' })}.${signature}`,
        expired: `${header}.${b64({ ...claims, exp: 1_000 })}.${signature}`,
        garbage_b64: `${header}.%%%.${signature}`,
      };
      for (const [name, token] of Object.entries(bad)) {
        expect({ name, result: await introspect(token) }).toEqual({
          name,
          result: { active: false },
        });
      }
      const missing = await issuer.fetch('/v1/introspect', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: '{}',
      });
      expect(await missing.json()).toEqual({ active: false });
    });

    it('unknown routes answer 404 not_found in the same error shape', async () => {
      await expectError(await issuer.fetch('/v2/anything'), 404, 'not_found');
    });
  });

  it('reports readiness and Prometheus metrics', async () => {
    const ready = await issuer.fetch('/readyz');
    expect(ready.status).toBe(200);
    expect(await ready.json()).toEqual({
      status: 'ready',
      keys: { ready: true },
      store: { ready: true },
    });
    expect(await (await issuer.fetch('/healthz')).json()).toEqual({ status: 'ok' });
    const metrics = await (await issuer.fetch('/metrics')).text();
    expect(metrics).toMatch(/wfid_tokens_minted_total\{backend="file",alg="ES256"\} [1-9]/);
    expect(metrics).toMatch(/wfid_sign_duration_seconds_count\{backend="file",alg="ES256"\} [1-9]/);
    expect(metrics).toMatch(/wfid_introspections_total\{result="active"\} [1-9]/);
    expect(metrics).toMatch(/wfid_http_errors_total\{code="invalid_request"\} [1-9]/);
  });

  it('never writes a token or request token into its log', async () => {
    const started = await issuer.startExecution();
    const token = await issuer.mint(started.request_token, 'aud');
    await new Promise((done) => setTimeout(done, 100));
    const logs = issuer.logs();
    expect(logs).toContain('issuer listening');
    expect(logs).not.toContain(started.request_token);
    expect(logs).not.toContain(token.value.split('.')[2]);
    expect(logs).not.toContain(issuer.engineToken);
    expect(logs).not.toMatch(/eyJ[A-Za-z0-9_-]{10,}\./);
  });
});
