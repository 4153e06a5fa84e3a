import { describe, expect, it, vi } from 'vitest';
import type { ExecutionRecord } from '../../src/executions/execution.js';
import { MintRateLimit } from '../../src/http/rate-limit.js';
import { verifySignature } from '../../src/jws/compact.js';
import { createCompactVerifier } from '../../src/jws/compact-verifier.js';
import { decodeCompact } from '../../src/jws/decode-compact.js';
import { compileSubject } from '../../src/tokens/claims.js';
import { TokenMinter } from '../../src/tokens/mint.js';
import {
  newRequestToken,
  parseRequestToken,
  secretMatches,
} from '../../src/tokens/request-token.js';
import { oneKeyRing } from './fake-backend.js';

/** The JWS core's reading of a token (form and header rules), as introspection applies it. */
const readToken = (token: string) =>
  createCompactVerifier({ algorithms: new Set(['ES256']) }).read(token);

const NOW = Date.UTC(2026, 10, 25, 12, 0, 0);

async function minter(overrides: Partial<ConstructorParameters<typeof TokenMinter>[0]> = {}) {
  const { ring, publicKey } = await oneKeyRing();
  return {
    publicKey,
    minter: new TokenMinter({
      ring,
      issuer: 'https://id.example.com',
      subjectTemplate: 'workflow:{workflow_id}',
      extraClaims: ['team'],
      lifetimeMs: 600_000,
      maxLifetimeMs: 3_600_000,
      now: () => NOW,
      ...overrides,
    }),
  };
}

function record(overrides: Partial<ExecutionRecord> = {}): ExecutionRecord {
  return {
    engine: 'n8n-prod',
    executionId: 'e-1',
    workflowId: 'wf-1',
    workflowName: 'Sync',
    claims: { team: 'data' },
    status: 'running',
    startedAt: NOW - 1000,
    deadline: NOW + 86_400_000,
    ...overrides,
  };
}

describe('TokenMinter', () => {
  it("names the execution's status list entry in status.status_list, and nothing without one", async () => {
    const { minter: m } = await minter({
      statusListUri: (list) => `https://id.example.com/v1/status-lists/${list}`,
    });
    const withEntry = await m.mint(record({ statusEntry: { list: 3, idx: 41 } }), {
      audience: 'aud',
    });
    expect(decodeCompact(withEntry.value).payload.status).toEqual({
      status_list: { idx: 41, uri: 'https://id.example.com/v1/status-lists/3' },
    });
    const older = await m.mint(record({ executionId: 'e-old' }), { audience: 'aud' });
    expect(decodeCompact(older.value).payload).not.toHaveProperty('status');
  });

  it('mints a compact JWS with the DESIGN claims, nbf before iat, and a fresh jti each time', async () => {
    const { minter: m, publicKey } = await minter();
    const first = await m.mint(record(), { audience: 'aud' });
    const second = await m.mint(record(), { audience: 'aud' });
    const parsed = readToken(first.value);
    expect(verifySignature('ES256', publicKey, parsed.signingInput, parsed.signature)).toBe(true);
    expect(parsed.header).toMatchObject({ alg: 'ES256', typ: 'JWT' });
    const iat = NOW / 1000;
    expect(parsed.payload).toMatchObject({
      iss: 'https://id.example.com',
      sub: 'workflow:wf-1',
      aud: 'aud',
      iat,
      nbf: iat - 5,
      exp: iat + 600,
      engine: 'n8n-prod',
      execution_id: 'e-1',
      workflow_id: 'wf-1',
      workflow_name: 'Sync',
      started_at: iat - 1,
      team: 'data',
    });
    expect(parsed.payload.jti).not.toBe(readToken(second.value).payload.jti);
    expect(first.expiresAt).toBe(iat + 600);
  });

  it('never lets a stored claim replace a reserved one, whatever the record holds; lineage stays', async () => {
    const { minter: m } = await minter();
    // Registration refuses these names; a row written some other way must not make a token lie.
    const forged = record({
      claims: {
        team: 'data',
        sub: 'workflow:payroll',
        iss: 'https://evil.example',
        engine: 'n8n-other',
        workflow_id: 'payroll',
        status: ['https://evil.example/list'],
        published: true,
        workflow_digest: 'sha256:abc',
      },
    });
    const token = await m.mint(forged, { audience: 'aud' });
    const text = Buffer.from(token.value.split('.')[1]!, 'base64url').toString();
    // Each name once (JSON.parse would keep the last of two), and the issuer's value.
    for (const name of ['sub', 'iss', 'engine', 'workflow_id', 'status']) {
      expect(text.split(`"${name}":`).length, name).toBeLessThanOrEqual(2);
    }
    expect(readToken(token.value).payload).toMatchObject({
      iss: 'https://id.example.com',
      sub: 'workflow:wf-1',
      engine: 'n8n-prod',
      workflow_id: 'wf-1',
      team: 'data',
      published: true,
      workflow_digest: 'sha256:abc',
    });
    expect(readToken(token.value).payload).not.toHaveProperty('status');
  });

  it('keeps nothing of the token of a registration, and the claims of later tokens', async () => {
    const { minter: m } = await minter();
    // Claims never change once registered; here they do, to show what was serialised when.
    const team = async (value: string, options?: { keepClaims: boolean }) =>
      readToken(
        (await m.mint(record({ claims: { team: value } }), { audience: 'a' }, options)).value,
      ).payload.team;
    expect(await team('at-registration', { keepClaims: false })).toBe('at-registration');
    expect(await team('first-request')).toBe('first-request');
    expect(await team('second-request')).toBe('first-request');
  });

  it("serialises each execution's claims once, yet never mixes executions up", async () => {
    const { minter: m } = await minter();
    const first = readToken((await m.mint(record(), { audience: 'a' })).value);
    const other = readToken(
      (await m.mint(record({ executionId: 'e-2', workflowId: 'wf-2' }), { audience: 'a' })).value,
    );
    const reused = readToken(
      (await m.mint(record({ workflowId: 'wf-3', startedAt: NOW - 500 }), { audience: 'a' })).value,
    );
    expect(first.payload).toMatchObject({
      execution_id: 'e-1',
      workflow_id: 'wf-1',
      sub: 'workflow:wf-1',
    });
    expect(other.payload).toMatchObject({
      execution_id: 'e-2',
      workflow_id: 'wf-2',
      sub: 'workflow:wf-2',
    });
    // Same id registered anew (after collection): claims are built again, not served from the cache.
    expect(reused.payload).toMatchObject({
      execution_id: 'e-1',
      workflow_id: 'wf-3',
      sub: 'workflow:wf-3',
    });
    // The same id (and start) in another engine is another execution, with its own claims.
    const otherEngine = readToken(
      (await m.mint(record({ engine: 'n8n-dev', workflowId: 'wf-9' }), { audience: 'a' })).value,
    );
    expect(otherEngine.payload).toMatchObject({
      engine: 'n8n-dev',
      execution_id: 'e-1',
      workflow_id: 'wf-9',
    });
    // The hand-assembled payload is exactly what JSON.stringify would produce: no duplicate keys.
    const text = Buffer.from(first.signingInput.toString().split('.')[1]!, 'base64url').toString();
    expect(JSON.stringify(JSON.parse(text))).toBe(text);
  });

  it('never lets a token outlive the execution deadline or the configured cap', async () => {
    const { minter: m } = await minter();
    const nearDeadline = await m.mint(record({ deadline: NOW + 90_000 }), { audience: 'a' });
    expect(nearDeadline.expiresAt).toBe(NOW / 1000 + 90);
    const capped = await m.mint(record(), { audience: 'a', lifetimeS: 86_400 });
    expect(capped.expiresAt).toBe(NOW / 1000 + 3600);
    const short = await m.mint(record(), { audience: 'a', lifetimeS: 60 });
    expect(short.expiresAt).toBe(NOW / 1000 + 60);
  });

  it('mints only for running executions', async () => {
    const { minter: m } = await minter();
    await expect(
      m.mint(record({ status: 'success', endedAt: NOW }), { audience: 'a' }),
    ).rejects.toMatchObject({ code: 'ERR_EXECUTION_ENDED' });
    await expect(m.mint(record({ deadline: NOW - 1 }), { audience: 'a' })).rejects.toMatchObject({
      code: 'ERR_EXECUTION_ENDED',
    });
  });

  it('checks audiences against the allowlist and their shape', async () => {
    const { minter: m } = await minter({ allowedAudiences: ['sts', 'vault'] });
    await expect(m.mint(record(), { audience: 'sts' })).resolves.toBeDefined();
    await expect(m.mint(record(), { audience: ['sts', 'other'] })).rejects.toMatchObject({
      code: 'ERR_INVALID_REQUEST',
    });
    await expect(m.mint(record(), { audience: 42 })).rejects.toMatchObject({
      code: 'ERR_INVALID_REQUEST',
    });
    await expect(m.mint(record(), { audience: 'sts', lifetimeS: 1.5 })).rejects.toMatchObject({
      code: 'ERR_INVALID_REQUEST',
    });
  });
});

describe('subject template', () => {
  it('renders claims into sub and refuses unknown claim names at start-up', () => {
    const render = compileSubject('repo:{project_id}:wf:{workflow_id}:team:{team}', ['team']);
    expect(render({ project_id: 'p', workflow_id: 'w', team: 't' })).toBe('repo:p:wf:w:team:t');
    const published = compileSubject('workflow:{root_workflow_id}:published:{published}', []);
    expect(published({ root_workflow_id: 'r', published: false })).toBe(
      'workflow:r:published:false',
    );
    expect(() => compileSubject('workflow:{workflow}', [])).toThrowError(
      expect.objectContaining({ code: 'ERR_CONFIG' }),
    );
    expect(() => compileSubject('workflow:{jti}', [])).toThrowError(
      expect.objectContaining({ code: 'ERR_CONFIG' }),
    );
    expect(() => compileSubject('workflow:{workflow_id', [])).toThrowError(
      expect.objectContaining({ code: 'ERR_CONFIG' }),
    );
  });
});

describe('subject template values', () => {
  const render = compileSubject('repo:{project_id}:env:{environment}', ['team']);
  const refusal = (claims: Record<string, unknown>) => {
    try {
      render(claims);
    } catch (err) {
      expect(err).toMatchObject({ code: 'ERR_INVALID_REQUEST' });
      return (err as Error).message;
    }
    return undefined;
  };

  it('refuses a value holding a separator of the template, naming the field', () => {
    // Raw, these would read as another project's prod subject: repo:shop:env:prod:env:dev.
    expect(refusal({ project_id: 'shop:env:prod', environment: 'dev' })).toBe(
      'project_id: contains ":", a separator of the sub template',
    );
    expect(refusal({ project_id: 'shop', environment: 'dev:x' })).toMatch(/^environment: /);
    expect(render({ project_id: 'shop-1', environment: 'dev' })).toBe('repo:shop-1:env:dev');
    // Only the template's own separators count: with '/' as separator, ':' is a plain character.
    expect(
      compileSubject('{project_id}/{workflow_id}', [])({ project_id: 'a:b', workflow_id: 'c' }),
    ).toBe('a:b/c');
    expect(() =>
      compileSubject('{project_id}/{workflow_id}', [])({ project_id: 'a/b', workflow_id: 'c' }),
    ).toThrowError(expect.objectContaining({ message: expect.stringMatching(/^project_id: /) }));
  });

  it('refuses a placeholder with no value, and a list, naming the field', () => {
    expect(refusal({ project_id: 'shop' })).toBe('environment: required by the sub template');
    expect(refusal({ project_id: '', environment: 'dev' })).toBe(
      'project_id: required by the sub template',
    );
    const withTeam = compileSubject('team:{team}', ['team']);
    expect(() => withTeam({ team: ['a', 'b'] })).toThrowError(
      expect.objectContaining({ message: 'claims.team: the sub template needs a single value' }),
    );
    expect(withTeam({ team: 7 })).toBe('team:7');
  });

  it('is checked before anything is minted: checkIdentity throws what mint would', async () => {
    const { minter: m } = await minter({ subjectTemplate: 'repo:{project_id}:wf:{workflow_id}' });
    expect(() => m.checkIdentity(record({ projectId: 'a:b' }))).toThrowError(
      expect.objectContaining({
        code: 'ERR_INVALID_REQUEST',
        message: expect.stringMatching(/^project_id/),
      }),
    );
    expect(() => m.checkIdentity(record({ projectId: 'shop' }))).not.toThrow();
  });
});

describe('request tokens', () => {
  it('are 256-bit secrets stored only as a hash, matched in constant time', () => {
    const { token, tokenId, secretHash } = newRequestToken();
    expect(token).toMatch(/^wfr_[A-Za-z0-9_-]{59}$/);
    expect(secretHash).toHaveLength(32);
    const parsed = parseRequestToken(token)!;
    expect(parsed.tokenId).toBe(tokenId);
    expect(Buffer.from(parsed.secret, 'base64url')).toHaveLength(32);
    expect(secretHash.toString('base64url')).not.toContain(parsed.secret);
    expect(secretMatches(parsed.secret, secretHash)).toBe(true);
    expect(secretMatches(`${parsed.secret.slice(0, -1)}A`, secretHash)).toBe(
      parsed.secret.endsWith('A'),
    );
    expect(parseRequestToken('wfr_short')).toBeNull();
    expect(parseRequestToken(`xyz_${token.slice(4)}`)).toBeNull();
  });

  it('have ids that begin with the time they were issued at, then random bytes; the secret is random', () => {
    const now = vi.spyOn(Date, 'now').mockReturnValue(Date.UTC(2026, 10, 30, 12));
    try {
      // More than two draws of the random pool (128 tokens each): no bytes served twice.
      const tokens = Array.from({ length: 300 }, () => newRequestToken());
      const ids = tokens.map(({ tokenId }) => Buffer.from(tokenId, 'base64url'));
      for (const id of ids) expect(id.readUIntBE(0, 6)).toBe(Date.UTC(2026, 10, 30, 12));
      // The store's index takes ids issued together on neighbouring entries: one shared prefix.
      expect(new Set(tokens.map(({ tokenId }) => tokenId.slice(0, 8))).size).toBe(1);
      expect(new Set(ids.map((id) => id.subarray(6).toString('hex'))).size).toBe(300);
      const secrets = tokens.map(({ token }) => parseRequestToken(token)!.secret);
      expect(new Set(secrets).size).toBe(300);
      expect(new Set(secrets.map((secret) => secret.slice(0, 8))).size).toBeGreaterThan(290);
      // Never zeros: a token never takes bytes the pool already handed out (and zeroed).
      for (const secret of secrets) {
        expect(Buffer.from(secret, 'base64url').subarray(0, 8).equals(Buffer.alloc(8))).toBe(false);
      }
    } finally {
      now.mockRestore();
    }
  });
});

describe('mint rate limit', () => {
  it('allows rate_limit tokens per minute per execution, then answers with Retry-After', () => {
    let now = 0;
    const limit = new MintRateLimit(2, () => now);
    limit.take('a');
    limit.take('a');
    limit.take('b');
    expect(() => limit.take('a')).toThrowError(
      expect.objectContaining({ code: 'ERR_RATE_LIMITED', retryAfter: 60 }),
    );
    now = 60_000;
    expect(() => limit.take('a')).not.toThrow();
    expect(() => new MintRateLimit(0).take('a')).not.toThrow();
  });
});
