import { createHmac, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { JwsAlg } from '../../src/jws/algorithms.js';
import { base64url } from '../../src/jws/base64url.js';
import { signCompact, signLocal } from '../../src/jws/compact.js';
import { type PublicJwk, toPublicJwk } from '../../src/jws/jwk.js';
import {
  createVerifier,
  isJwtVerificationError,
  JwtVerificationError,
  type VerificationErrorCode,
  type VerifierOptions,
} from '../../src/verify/index.js';

interface TestKey {
  alg: JwsAlg;
  privateKey: KeyObject;
  publicKey: KeyObject;
  jwk: PublicJwk;
}

function makeKey(alg: JwsAlg): TestKey {
  const { privateKey, publicKey } =
    alg === 'ES256'
      ? generateKeyPairSync('ec', { namedCurve: 'P-256' })
      : alg === 'EdDSA'
        ? generateKeyPairSync('ed25519')
        : generateKeyPairSync('rsa', { modulusLength: 2048 });
  return { alg, privateKey, publicKey, jwk: toPublicJwk(publicKey, alg) };
}

/**
 * A real issuer as far as HTTP goes: discovery, JWKS and introspection on 127.0.0.1, with
 * every answer adjustable per test and every hit counted.
 */
interface FakeIssuer {
  url: string;
  hits: { discovery: number; jwks: number; introspect: number };
  keys: PublicJwk[];
  jwksCacheControl?: string;
  jwksStatus: number;
  discoveryIssuer?: string;
  introspection: Record<string, unknown>;
  introspectionStatus: number;
  introspected: string[];
}

let server: Server;
let issuer: FakeIssuer;
const ec = makeKey('ES256');
const rsa = makeKey('RS256');
const ed = makeKey('EdDSA');
const AUDIENCE = 'https://deploy.example.com';

beforeAll(async () => {
  server = createServer(async (req, res) => {
    const body = await readBody(req);
    const send = (status: number, json: unknown, headers: Record<string, string> = {}) => {
      res.writeHead(status, { 'content-type': 'application/json', ...headers });
      res.end(JSON.stringify(json));
    };
    if (req.url === '/.well-known/openid-configuration') {
      issuer.hits.discovery++;
      return send(200, {
        issuer: issuer.discoveryIssuer ?? issuer.url,
        jwks_uri: `${issuer.url}/.well-known/jwks.json`,
        introspection_endpoint: `${issuer.url}/v1/introspect`,
        id_token_signing_alg_values_supported: ['ES256', 'RS256', 'EdDSA'],
      });
    }
    if (req.url === '/.well-known/jwks.json') {
      issuer.hits.jwks++;
      const headers: Record<string, string> = issuer.jwksCacheControl
        ? { 'cache-control': issuer.jwksCacheControl }
        : {};
      return send(issuer.jwksStatus, { keys: issuer.keys }, headers);
    }
    if (req.url === '/v1/introspect' && req.method === 'POST') {
      issuer.hits.introspect++;
      issuer.introspected.push(new URLSearchParams(body).get('token') ?? '');
      return send(issuer.introspectionStatus, issuer.introspection);
    }
    send(404, { error: 'not_found' });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
});

afterAll(async () => {
  await new Promise((resolve) => server.close(resolve));
});

beforeEach(() => {
  issuer = {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    hits: { discovery: 0, jwks: 0, introspect: 0 },
    keys: [ec.jwk, rsa.jwk, ed.jwk],
    jwksCacheControl: 'public, max-age=600',
    jwksStatus: 200,
    introspection: { active: true, execution_status: 'running' },
    introspectionStatus: 200,
    introspected: [],
  };
});

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve) => {
    let text = '';
    req.on('data', (chunk) => {
      text += chunk;
    });
    req.on('end', () => resolve(text));
  });
}

const clock = { ms: Date.now() };
const nowS = () => Math.floor(clock.ms / 1000);

function verifierFor(options: Partial<VerifierOptions> = {}) {
  return createVerifier({
    issuer: issuer.url,
    audience: AUDIENCE,
    now: () => clock.ms,
    ...options,
  });
}

function claims(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  const now = nowS();
  return {
    iss: issuer.url,
    sub: 'workflow:wf-1',
    aud: AUDIENCE,
    iat: now,
    nbf: now - 5,
    exp: now + 600,
    jti: `jti-${Math.random()}`,
    execution_id: 'exec-1',
    workflow_id: 'wf-1',
    ...overrides,
  };
}

async function sign(
  key: TestKey,
  payload: Record<string, unknown> = claims(),
  header: Record<string, unknown> = {},
): Promise<string> {
  const encoded = base64url(
    JSON.stringify({ alg: key.alg, kid: key.jwk.kid, typ: 'JWT', ...header }),
  );
  return signCompact(encoded, payload, async (input) => signLocal(key.alg, key.privateKey, input));
}

/** Runs verify and returns its error, checking what every failure must satisfy. */
async function failure(token: string, verifier = verifierFor()): Promise<JwtVerificationError> {
  const err = await verifier.verify(token).then(
    () => {
      throw new Error('verify accepted a token it should refuse');
    },
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(JwtVerificationError);
  const error = err as JwtVerificationError;
  // The token (or any of its parts) never shows up in what may end up in a log.
  for (const part of String(token)
    .split('.')
    .filter((p) => p.length > 8)) {
    expect(error.message).not.toContain(part);
  }
  return error;
}

async function expectCode(token: string, code: VerificationErrorCode, verifier = verifierFor()) {
  const error = await failure(token, verifier);
  expect(error.code).toBe(code);
  return error;
}

describe('createVerifier: valid tokens', () => {
  it('verifies tokens of every alg the issuer publishes, and returns header and claims', async () => {
    const verifier = verifierFor();
    for (const key of [ec, rsa, ed]) {
      const { payload, header } = await verifier.verify(await sign(key));
      expect(header).toMatchObject({ alg: key.alg, kid: key.jwk.kid, typ: 'JWT' });
      expect(payload).toMatchObject({ iss: issuer.url, aud: AUDIENCE, workflow_id: 'wf-1' });
    }
    // One discovery and one JWKS fetch served all three.
    expect(issuer.hits).toMatchObject({ discovery: 1, jwks: 1 });
  });

  it('accepts an aud array that contains one of several configured audiences', async () => {
    const verifier = verifierFor({ audience: ['other', AUDIENCE] });
    const token = await sign(ec, claims({ aud: ['someone-else', AUDIENCE] }));
    expect((await verifier.verify(token)).payload.aud).toEqual(['someone-else', AUDIENCE]);
  });

  it('accepts exp and nbf within the clock tolerance', async () => {
    const verifier = verifierFor({ clockTolerance: 5 });
    await verifier.verify(
      await sign(ec, claims({ exp: nowS() - 3, nbf: nowS() + 3, iat: nowS() + 3 })),
    );
  });

  it('shares one JWKS fetch among concurrent cold verifies', async () => {
    const verifier = verifierFor();
    const token = await sign(ec);
    await Promise.all(Array.from({ length: 20 }, () => verifier.verify(token)));
    expect(issuer.hits).toMatchObject({ discovery: 1, jwks: 1 });
  });
});

describe('createVerifier: malformed tokens and headers', () => {
  it('refuses anything that is not a compact JWS with JSON header and payload', async () => {
    const good = await sign(ec);
    const [h, p, s] = good.split('.');
    const bad = [
      '',
      'abc',
      `${h}.${p}`,
      `${good}.extra`,
      `${h}!.${p}.${s}`,
      `${base64url('not json')}.${p}.${s}`,
      `${h}.${base64url('[1,2]')}.${s}`,
      `${h}.${base64url('"text"')}.${s}`,
      `${h}.${p}.${s}=`,
      `${h}.${p}.${'A'.repeat(20_000)}`,
      // A character whose low byte is a valid one: Buffer would quietly truncate it.
      `${h}.${String.fromCharCode(0x100 + p!.charCodeAt(0))}${p!.slice(1)}.${s}`,
      `${h}.${p}.${s!.slice(0, 10)}\u0141${s!.slice(11)}`,
    ];
    const verifier = verifierFor();
    for (const token of bad) await expectCode(token, 'ERR_JWT_MALFORMED', verifier);
    await expectCode(42 as unknown as string, 'ERR_JWT_MALFORMED', verifier);
    expect(issuer.hits.jwks).toBe(0);
  });

  it('refuses a header without kid, or with crit', async () => {
    await expectCode(await sign(ec, claims(), { kid: undefined }), 'ERR_JWT_MALFORMED');
    await expectCode(await sign(ec, claims(), { crit: ['exp'], exp: 1 }), 'ERR_JWT_MALFORMED');
  });

  it('refuses a typ other than JWT, naming the typ header', async () => {
    const error = await expectCode(
      await sign(ec, claims(), { typ: 'at+jwt' }),
      'ERR_JWT_CLAIM_INVALID',
    );
    expect(error.claim).toBe('typ');
    await verifierFor().verify(await sign(ec, claims(), { typ: 'application/jwt' }));
  });
});

describe('createVerifier: algorithms', () => {
  it('refuses alg none before fetching anything', async () => {
    const header = base64url(JSON.stringify({ alg: 'none', kid: ec.jwk.kid, typ: 'JWT' }));
    const token = `${header}.${base64url(JSON.stringify(claims()))}.`;
    await expectCode(token, 'ERR_JWS_ALG_NOT_ALLOWED');
    expect(issuer.hits.jwks).toBe(0);
  });

  it('refuses an HS256 token keyed with the public key (the key-confusion attack)', async () => {
    for (const keyBytes of [
      rsa.publicKey.export({ format: 'pem', type: 'spki' }),
      rsa.publicKey.export({ format: 'der', type: 'spki' }),
      JSON.stringify(rsa.jwk),
    ]) {
      const input = `${base64url(JSON.stringify({ alg: 'HS256', kid: rsa.jwk.kid, typ: 'JWT' }))}.${base64url(JSON.stringify(claims()))}`;
      const mac = createHmac('sha256', keyBytes).update(input).digest('base64url');
      await expectCode(`${input}.${mac}`, 'ERR_JWS_ALG_NOT_ALLOWED');
    }
  });

  it('will not be configured with none or HS*', () => {
    for (const alg of ['none', 'HS256', 'ES512']) {
      expect(() => verifierFor({ algorithms: [alg as JwsAlg] })).toThrow(TypeError);
    }
  });

  it('refuses an alg outside the configured allowlist', async () => {
    await expectCode(
      await sign(rsa),
      'ERR_JWS_ALG_NOT_ALLOWED',
      verifierFor({ algorithms: ['ES256'] }),
    );
  });

  it('refuses an ES256 header on an RSA key, and an alg other than the JWK pins', async () => {
    // Signed with the EC key, but naming the RSA key: the alg cannot fit that key type.
    await expectCode(await sign(ec, claims(), { kid: rsa.jwk.kid }), 'ERR_JWS_ALG_NOT_ALLOWED');
    // PS256 fits an RSA key, but the JWK says RS256.
    await expectCode(await sign({ ...rsa, alg: 'PS256' }), 'ERR_JWS_ALG_NOT_ALLOWED');
  });

  it('refuses a tampered payload or signature', async () => {
    const [h, p, s] = (await sign(ec)).split('.');
    const forged = base64url(JSON.stringify({ ...claims(), workflow_id: 'wf-admin' }));
    await expectCode(`${h}.${forged}.${s}`, 'ERR_JWS_SIGNATURE_INVALID');
    await expectCode(`${h}.${p}.${s!.slice(0, -4)}AAAA`, 'ERR_JWS_SIGNATURE_INVALID');
    await expectCode(`${h}.${p}.${s!.slice(0, 20)}`, 'ERR_JWS_SIGNATURE_INVALID');
  });
});

describe('createVerifier: claims', () => {
  it('refuses an expired token', async () => {
    const error = await expectCode(await sign(ec, claims({ exp: nowS() - 10 })), 'ERR_JWT_EXPIRED');
    expect(error.claim).toBe('exp');
  });

  it('refuses a token that is not valid yet, or issued in the future', async () => {
    const early = await expectCode(
      await sign(ec, claims({ nbf: nowS() + 60 })),
      'ERR_JWT_NOT_YET_VALID',
    );
    expect(early.claim).toBe('nbf');
    const future = await expectCode(
      await sign(ec, claims({ iat: nowS() + 60 })),
      'ERR_JWT_NOT_YET_VALID',
    );
    expect(future.claim).toBe('iat');
  });

  it('refuses a wrong or missing aud, iss or exp, naming the claim', async () => {
    const cases: [Record<string, unknown>, string][] = [
      [{ aud: 'https://other.example.com' }, 'aud'],
      [{ aud: [] }, 'aud'],
      [{ aud: ['x', 42] }, 'aud'],
      [{ aud: undefined }, 'aud'],
      [{ iss: `${issuer.url}/` }, 'iss'],
      [{ iss: 'https://evil.example.com' }, 'iss'],
      [{ exp: undefined }, 'exp'],
      [{ exp: '9999999999' }, 'exp'],
      [{ nbf: 'yesterday' }, 'nbf'],
      [{ jti: 7 }, 'jti'],
    ];
    const verifier = verifierFor();
    for (const [overrides, claim] of cases) {
      const error = await expectCode(
        await sign(ec, claims(overrides)),
        'ERR_JWT_CLAIM_INVALID',
        verifier,
      );
      expect(error.claim).toBe(claim);
    }
  });
});

describe('createVerifier: JWKS contents', () => {
  it('ignores encryption, symmetric and unparsable keys, even under a matching kid', async () => {
    const enc = makeKey('ES256');
    const oct = makeKey('ES256');
    const junk = makeKey('ES256');
    issuer.keys = [
      { ...enc.jwk, use: 'enc' as 'sig' },
      {
        kty: 'oct',
        kid: oct.jwk.kid,
        k: base64url(oct.publicKey.export({ format: 'der', type: 'spki' })),
      } as unknown as PublicJwk,
      { ...junk.jwk, x: 'AAAA' },
      ec.jwk,
    ];
    const verifier = verifierFor();
    for (const key of [enc, oct, junk])
      await expectCode(await sign(key), 'ERR_JWKS_NO_MATCHING_KEY', verifier);
    await verifier.verify(await sign(ec));
  });

  it('goes through the fetch it is given', async () => {
    const seen: string[] = [];
    const counting: typeof fetch = (input, init) => {
      seen.push(String(input));
      return fetch(input, init);
    };
    await verifierFor({ fetch: counting }).verify(await sign(ec));
    expect(seen).toEqual([
      `${issuer.url}/.well-known/openid-configuration`,
      `${issuer.url}/.well-known/jwks.json`,
    ]);
  });
});

describe('createVerifier: JWKS cache', () => {
  it('refetches once on an unknown kid, then not again within the cooldown', async () => {
    const verifier = verifierFor({ jwksCooldown: 30 });
    await verifier.verify(await sign(ec));
    expect(issuer.hits.jwks).toBe(1);

    const stranger = makeKey('ES256');
    const unknown = await sign(stranger);
    // The set was fetched just now: the cooldown already runs, an unknown kid fetches nothing.
    await expectCode(unknown, 'ERR_JWKS_NO_MATCHING_KEY', verifier);
    expect(issuer.hits.jwks).toBe(1);

    clock.ms += 31_000;
    await expectCode(unknown, 'ERR_JWKS_NO_MATCHING_KEY', verifier);
    expect(issuer.hits.jwks).toBe(2);

    // A flood of unknown kids inside the cooldown costs the issuer nothing.
    clock.ms += 29_000;
    await Promise.all(
      Array.from({ length: 50 }, () => expectCode(unknown, 'ERR_JWKS_NO_MATCHING_KEY', verifier)),
    );
    expect(issuer.hits.jwks).toBe(2);

    // After the cooldown a new key (a rotation) is found with one fetch, shared by the burst.
    clock.ms += 2_000;
    issuer.keys = [...issuer.keys, stranger.jwk];
    const rotated = await sign(stranger);
    await Promise.all(Array.from({ length: 10 }, () => verifier.verify(rotated)));
    expect(issuer.hits.jwks).toBe(3);
    expect(issuer.hits.discovery).toBe(1);
  });

  it('keeps the JWKS for its Cache-Control max-age, then refetches', async () => {
    issuer.jwksCacheControl = 'public, max-age=60';
    const verifier = verifierFor();
    const token = await sign(ec, claims({ exp: nowS() + 3600 }));
    await verifier.verify(token);
    clock.ms += 59_000;
    await verifier.verify(token);
    expect(issuer.hits.jwks).toBe(1);
    clock.ms += 2_000;
    await verifier.verify(token);
    expect(issuer.hits.jwks).toBe(2);
  });

  it('drops a key the issuer removed once the cache expires', async () => {
    issuer.jwksCacheControl = 'max-age=60';
    const verifier = verifierFor();
    const token = await sign(ed, claims({ exp: nowS() + 3600 }));
    await verifier.verify(token);
    issuer.keys = [ec.jwk];
    clock.ms += 61_000;
    await expectCode(token, 'ERR_JWKS_NO_MATCHING_KEY', verifier);
  });

  it('bounds max-age: no-store still caches 30 s, a year is cut to a day', async () => {
    const token = await sign(ec, claims({ exp: nowS() + 3 * 86_400 }));
    issuer.jwksCacheControl = 'no-store';
    const eager = verifierFor();
    await eager.verify(token);
    clock.ms += 29_000;
    await eager.verify(token);
    expect(issuer.hits.jwks).toBe(1);
    clock.ms += 2_000;
    await eager.verify(token);
    expect(issuer.hits.jwks).toBe(2);

    issuer.jwksCacheControl = 'max-age=31536000';
    const lazy = verifierFor();
    await lazy.verify(token);
    clock.ms += 86_401_000;
    await lazy.verify(token);
    expect(issuer.hits.jwks).toBe(4);
  });

  it('fails closed with ERR_JWKS_FETCH_FAILED when the JWKS cannot be fetched', async () => {
    issuer.jwksStatus = 503;
    const verifier = verifierFor();
    const error = await expectCode(await sign(ec), 'ERR_JWKS_FETCH_FAILED', verifier);
    expect(error.unavailable).toBe(true);
    // Recovers once the issuer does (after the short failure backoff).
    issuer.jwksStatus = 200;
    clock.ms += 6_000;
    await verifier.verify(await sign(ec));
  });
});

describe('createVerifier: discovery', () => {
  it('refuses a discovery document naming another issuer', async () => {
    issuer.discoveryIssuer = 'https://evil.example.com';
    await expectCode(await sign(ec), 'ERR_DISCOVERY_FAILED');
    expect(issuer.hits.jwks).toBe(0);
  });

  it('fails with ERR_DISCOVERY_FAILED when the issuer is unreachable', async () => {
    const verifier = createVerifier({
      issuer: 'http://127.0.0.1:1',
      audience: AUDIENCE,
      timeout: 2,
    });
    const error = await failure(await sign(ec, claims({ iss: 'http://127.0.0.1:1' })), verifier);
    expect(error.code).toBe('ERR_DISCOVERY_FAILED');
    expect(error.cause).toBeDefined();
  });

  it('validates its options eagerly, naming the bad one', () => {
    expect(() => verifierFor({ issuer: 'not a url' })).toThrow(/issuer/);
    expect(() => verifierFor({ issuer: 'ftp://x.example' })).toThrow(/issuer/);
    expect(() => verifierFor({ audience: [] })).toThrow(/audience/);
    expect(() => verifierFor({ clockTolerance: -1 })).toThrow(/clockTolerance/);
    expect(() => verifierFor({ jwksCooldown: Number.NaN })).toThrow(/jwksCooldown/);
  });
});

describe('createVerifier: requireRunning', () => {
  it('accepts a token whose execution runs, and caches the answer for a few seconds', async () => {
    const verifier = verifierFor({ requireRunning: true, introspectionCacheTtl: 5 });
    const token = await sign(ec);
    await verifier.verify(token);
    await verifier.verify(token);
    expect(issuer.hits.introspect).toBe(1);
    expect(issuer.introspected).toEqual([token]);
    clock.ms += 6_000;
    await verifier.verify(token);
    expect(issuer.hits.introspect).toBe(2);
  });

  it('refuses a token the issuer reports inactive or not running', async () => {
    const verifier = verifierFor({ requireRunning: true });
    issuer.introspection = { active: false };
    await expectCode(await sign(ec), 'ERR_EXECUTION_NOT_RUNNING', verifier);
    issuer.introspection = { active: true, execution_status: 'success' };
    await expectCode(await sign(ec), 'ERR_EXECUTION_NOT_RUNNING', verifier);
  });

  it('fails closed when introspection fails', async () => {
    issuer.introspectionStatus = 500;
    issuer.introspection = { error: 'server_error' };
    const error = await expectCode(
      await sign(ec),
      'ERR_INTROSPECTION_FAILED',
      verifierFor({ requireRunning: true }),
    );
    expect(isJwtVerificationError(error, 'ERR_INTROSPECTION_FAILED')).toBe(true);
    issuer.introspectionStatus = 200;
    issuer.introspection = { execution_status: 'running' };
    await expectCode(
      await sign(ec),
      'ERR_INTROSPECTION_FAILED',
      verifierFor({ requireRunning: true }),
    );
  });

  it('does not introspect a token that fails its own checks', async () => {
    const verifier = verifierFor({ requireRunning: true });
    await expectCode(await sign(ec, claims({ exp: nowS() - 60 })), 'ERR_JWT_EXPIRED', verifier);
    expect(issuer.hits.introspect).toBe(0);
  });
});
