/**
 * The verifier library against a real issuer-shaped HTTP server on 127.0.0.1 and a second
 * server on another port (another origin) that answers with its own keys: one spelling per
 * token, unsupported headers, redirects, and property-based junk and mutations.
 */
import { generateKeyPairSync } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import fc from 'fast-check';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { base64url } from '../../src/jws/base64url.js';
import { signCompact, signLocal } from '../../src/jws/compact.js';
import { toPublicJwk } from '../../src/jws/jwk.js';
import {
  createVerifier,
  JwtVerificationError,
  type VerificationErrorCode,
  type VerifierOptions,
} from '../../src/verify/index.js';
import { junkToken, mutationOf, respellTrailingBits } from './token-arbitraries.js';

const CODES: readonly VerificationErrorCode[] = [
  'ERR_JWT_MALFORMED',
  'ERR_JWS_ALG_NOT_ALLOWED',
  'ERR_JWKS_NO_MATCHING_KEY',
  'ERR_JWS_SIGNATURE_INVALID',
  'ERR_JWT_EXPIRED',
  'ERR_JWT_NOT_YET_VALID',
  'ERR_JWT_CLAIM_INVALID',
  'ERR_EXECUTION_NOT_RUNNING',
  'ERR_DISCOVERY_FAILED',
  'ERR_JWKS_FETCH_FAILED',
  'ERR_INTROSPECTION_FAILED',
  'ERR_REDIRECT_REFUSED',
];

const issuerKey = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const attackerKey = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const issuerJwk = toPublicJwk(issuerKey.publicKey, 'ES256');
const attackerJwk = toPublicJwk(attackerKey.publicKey, 'ES256');
const AUDIENCE = 'https://deploy.example.com';

type Route = (req: IncomingMessage, res: ServerResponse, body: string) => void;

/** A server whose routes each test sets; records every request it receives. */
interface TestServer {
  url: string;
  routes: Map<string, Route>;
  requests: { method: string; url: string; body: string; authorization?: string }[];
}

const servers: Server[] = [];
async function startServer(): Promise<TestServer> {
  const state: TestServer = { url: '', routes: new Map(), requests: [] };
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (chunk) => {
      body += chunk;
    });
    req.on('end', () => {
      state.requests.push({
        method: req.method!,
        url: req.url!,
        body,
        ...(req.headers.authorization ? { authorization: req.headers.authorization } : {}),
      });
      const route = state.routes.get(`${req.method} ${req.url}`);
      if (route) return route(req, res, body);
      res.writeHead(404).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  servers.push(server);
  state.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return state;
}

const json =
  (value: unknown): Route =>
  (_req, res) => {
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(value));
  };
const redirect =
  (status: number, location: string): Route =>
  (_req, res) => {
    res.writeHead(status, { location }).end();
  };

let issuer: TestServer;
let attacker: TestServer;

beforeAll(async () => {
  issuer = await startServer();
  attacker = await startServer();
});
afterAll(async () => {
  await Promise.all(servers.map((server) => new Promise((resolve) => server.close(resolve))));
});

/** The issuer as it should be: discovery, JWKS and a running execution. The attacker: its keys. */
beforeEach(() => {
  issuer.requests.length = 0;
  attacker.requests.length = 0;
  issuer.routes = new Map<string, Route>([
    [
      'GET /.well-known/openid-configuration',
      json({
        issuer: issuer.url,
        jwks_uri: `${issuer.url}/.well-known/jwks.json`,
        introspection_endpoint: `${issuer.url}/v1/introspect`,
      }),
    ],
    ['GET /.well-known/jwks.json', json({ keys: [issuerJwk] })],
    ['POST /v1/introspect', json({ active: true, execution_status: 'running' })],
  ]);
  attacker.routes = new Map<string, Route>([
    ['GET /jwks.json', json({ keys: [attackerJwk, issuerJwk] })],
    [
      'GET /.well-known/openid-configuration',
      json({ issuer: issuer.url, jwks_uri: `${attacker.url}/jwks.json` }),
    ],
    ['POST /introspect', json({ active: true, execution_status: 'running' })],
  ]);
});

function verifierFor(options: Partial<VerifierOptions> = {}) {
  return createVerifier({ issuer: issuer.url, audience: AUDIENCE, ...options });
}

function sign(
  header: Record<string, unknown> = {},
  overrides: Record<string, unknown> = {},
  key = issuerKey.privateKey,
  kid = issuerJwk.kid,
): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  const payload = {
    iss: issuer.url,
    aud: AUDIENCE,
    sub: 'workflow:wf-1',
    iat: now,
    nbf: now - 5,
    exp: now + 600,
    jti: `jti-${Math.random()}`,
    execution_id: 'exec-1',
    ...overrides,
  };
  const encoded = base64url(JSON.stringify({ alg: 'ES256', kid, typ: 'JWT', ...header }));
  return signCompact(encoded, payload, async (input) => signLocal('ES256', key, input));
}

async function codeOf(
  token: unknown,
  verifier = verifierFor(),
): Promise<VerificationErrorCode | 'accepted'> {
  try {
    await verifier.verify(token as string);
    return 'accepted';
  } catch (err) {
    expect(err).toBeInstanceOf(JwtVerificationError);
    return (err as JwtVerificationError).code;
  }
}

describe('verifier: one token, one spelling, no unsupported headers', () => {
  it('accepts the canonical token (the baseline)', async () => {
    expect(await codeOf(await sign())).toBe('accepted');
  });

  it('refuses a signature re-spelled with other unused trailing bits', async () => {
    const token = await sign();
    for (let bits = 1; bits < 16; bits++) {
      expect(await codeOf(respellTrailingBits(token, 2, bits))).toBe('ERR_JWT_MALFORMED');
    }
  });

  it('refuses + and / for - and _', async () => {
    let token = await sign();
    while (!/[-_]/.test(token.split('.')[2]!)) token = await sign();
    const [h, p, s] = token.split('.') as [string, string, string];
    const standard = s.replaceAll('-', '+').replaceAll('_', '/');
    expect(await codeOf(`${h}.${p}.${standard}`)).toBe('ERR_JWT_MALFORMED');
  });

  it('refuses crit and b64 headers, even validly signed', async () => {
    expect(await codeOf(await sign({ crit: ['exp'], exp: 1 }))).toBe('ERR_JWT_MALFORMED');
    expect(await codeOf(await sign({ b64: false, crit: ['b64'] }))).toBe('ERR_JWT_MALFORMED');
    expect(await codeOf(await sign({ b64: false }))).toBe('ERR_JWT_MALFORMED');
  });
});

describe('verifier: keys of the JWKS', () => {
  it('verifies with no key that carries private or symmetric members, or key_ops other than verify', async () => {
    const privateJwk = { ...issuerKey.privateKey.export({ format: 'jwk' }), kid: issuerJwk.kid };
    const token = await sign();
    const unusable: Record<string, unknown>[] = [
      { ...privateJwk, alg: 'ES256', use: 'sig' },
      { ...issuerJwk, k: 'c2VjcmV0' },
      { ...issuerJwk, key_ops: 'sign' },
      { ...issuerJwk, key_ops: ['sign'] },
      { ...issuerJwk, use: 'enc' },
    ];
    for (const jwk of unusable) {
      issuer.routes.set('GET /.well-known/jwks.json', json({ keys: [jwk] }));
      expect(await codeOf(token), JSON.stringify(Object.keys(jwk))).toBe(
        'ERR_JWKS_NO_MATCHING_KEY',
      );
    }
    // The same public key, published as it should be, verifies the same token.
    issuer.routes.set(
      'GET /.well-known/jwks.json',
      json({ keys: [{ ...issuerJwk, key_ops: ['verify'] }] }),
    );
    expect(await codeOf(token)).toBe('accepted');
  });
});

describe('verifier: redirects', () => {
  it('does not follow a JWKS redirect to another origin, and fetches nothing there', async () => {
    issuer.routes.set('GET /.well-known/jwks.json', redirect(302, `${attacker.url}/jwks.json`));
    const forged = await sign({}, {}, attackerKey.privateKey, attackerJwk.kid);
    const verifier = verifierFor();
    const error = await verifier.verify(forged).catch((err: JwtVerificationError) => err);
    expect(error).toBeInstanceOf(JwtVerificationError);
    expect((error as JwtVerificationError).code).toBe('ERR_REDIRECT_REFUSED');
    expect((error as JwtVerificationError).unavailable).toBe(true);
    expect(attacker.requests).toEqual([]);
  });

  it('does not follow a discovery redirect to another origin', async () => {
    issuer.routes.set(
      'GET /.well-known/openid-configuration',
      redirect(301, `${attacker.url}/.well-known/openid-configuration`),
    );
    expect(await codeOf(await sign({}, {}, attackerKey.privateKey, attackerJwk.kid))).toBe(
      'ERR_REDIRECT_REFUSED',
    );
    expect(attacker.requests).toEqual([]);
  });

  it('refuses a change of scheme or host on the same server (http to https, 127.0.0.1 to localhost)', async () => {
    const port = new URL(issuer.url).port;
    for (const target of [
      `https://127.0.0.1:${port}/.well-known/jwks.json`,
      `http://localhost:${port}/.well-known/jwks.json`,
      `//localhost:${port}/.well-known/jwks.json`,
    ]) {
      issuer.routes.set('GET /.well-known/jwks.json', redirect(302, target));
      expect(await codeOf(await sign()), target).toBe('ERR_REDIRECT_REFUSED');
    }
  });

  it('never sends the token to another origin when introspection redirects', async () => {
    for (const status of [302, 307, 308]) {
      issuer.routes.set('POST /v1/introspect', redirect(status, `${attacker.url}/introspect`));
      expect(await codeOf(await sign(), verifierFor({ requireRunning: true }))).toBe(
        'ERR_REDIRECT_REFUSED',
      );
    }
    expect(attacker.requests).toEqual([]);
  });

  it('refuses what a custom fetch followed on its own to another origin', async () => {
    issuer.routes.set('GET /.well-known/jwks.json', redirect(302, `${attacker.url}/jwks.json`));
    const following: typeof fetch = (input, init) => fetch(input, { ...init, redirect: 'follow' });
    expect(
      await codeOf(
        await sign({}, {}, attackerKey.privateKey, attackerJwk.kid),
        verifierFor({ fetch: following }),
      ),
    ).toBe('ERR_REDIRECT_REFUSED');
  });

  it('follows a same-origin redirect of GETs, and of the introspection POST only with 307/308', async () => {
    issuer.routes.set('GET /.well-known/jwks.json', redirect(302, '/keys'));
    issuer.routes.set('GET /keys', json({ keys: [issuerJwk] }));
    expect(await codeOf(await sign())).toBe('accepted');

    issuer.routes.set('POST /v1/introspect', redirect(307, '/v2/introspect'));
    issuer.routes.set('POST /v2/introspect', json({ active: true, execution_status: 'running' }));
    const token = await sign();
    expect(await codeOf(token, verifierFor({ requireRunning: true }))).toBe('accepted');
    const moved = issuer.requests.find((request) => request.url === '/v2/introspect')!;
    expect(new URLSearchParams(moved.body).get('token')).toBe(token);

    issuer.routes.set('POST /v1/introspect', redirect(303, '/v2/introspect'));
    expect(await codeOf(await sign(), verifierFor({ requireRunning: true }))).toBe(
      'ERR_REDIRECT_REFUSED',
    );
  });

  it('stops a same-origin redirect loop', async () => {
    issuer.routes.set('GET /.well-known/jwks.json', redirect(302, '/a'));
    issuer.routes.set('GET /a', redirect(302, '/.well-known/jwks.json'));
    expect(await codeOf(await sign())).toBe('ERR_REDIRECT_REFUSED');
    expect(issuer.requests.filter((request) => request.url === '/a').length).toBeLessThanOrEqual(2);
  });
});

describe('verifier: properties', () => {
  it('never verifies a mutation of a valid token, and only rejects with a JwtVerificationError of a known code', async () => {
    const verifier = verifierFor();
    const token = await sign();
    expect(await codeOf(token, verifier)).toBe('accepted');
    await fc.assert(
      fc.asyncProperty(mutationOf(token), async (mutated) => {
        const code = await codeOf(mutated, verifier);
        expect(code).not.toBe('accepted');
        expect(CODES).toContain(code);
      }),
      { numRuns: 1000 },
    );
  });

  it('never verifies junk or crafted headers, whatever kid they name', async () => {
    const verifier = verifierFor({ jwksCooldown: 3600 });
    await fc.assert(
      fc.asyncProperty(junkToken([issuerJwk.kid, attackerJwk.kid]), async (junk) => {
        const code = await codeOf(junk, verifier);
        expect(code).not.toBe('accepted');
        expect(CODES).toContain(code);
      }),
      { numRuns: 1000 },
    );
  });
});
