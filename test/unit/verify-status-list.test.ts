/**
 * `requireRunning: 'status-list'` against an issuer on 127.0.0.1 that serves discovery, the
 * JWKS and Status List Tokens made per test, with every request counted.
 */
import { generateKeyPairSync } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { deflateSync } from 'node:zlib';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { base64url } from '../../src/jws/base64url.js';
import { signCompact, signLocal } from '../../src/jws/compact.js';
import { toPublicJwk } from '../../src/jws/jwk.js';
import { encodeStatusBits } from '../../src/tokens/status-bits.js';
import {
  createVerifier,
  JwtVerificationError,
  type VerificationErrorCode,
} from '../../src/verify/index.js';

const AUDIENCE = 'svc';
const key = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const jwk = toPublicJwk(key.publicKey, 'ES256');
const stranger = generateKeyPairSync('ec', { namedCurve: 'P-256' });

let server: Server;
let url: string;
/** Per list number: the body and content type served, or an HTTP status. */
let lists: Map<number, { body: string; type?: string } | number>;
let hits: Map<number, number>;
const clock = { ms: Date.UTC(2026, 10, 30, 9, 0, 0) };
const nowS = () => Math.floor(clock.ms / 1000);

beforeAll(async () => {
  server = createServer((req, res) => {
    const send = (status: number, body: string, type = 'application/json') => {
      res.writeHead(status, { 'content-type': type });
      res.end(body);
    };
    if (req.url === '/.well-known/openid-configuration') {
      return send(200, JSON.stringify({ issuer: url, jwks_uri: `${url}/.well-known/jwks.json` }));
    }
    if (req.url === '/.well-known/jwks.json') return send(200, JSON.stringify({ keys: [jwk] }));
    const match = /^\/v1\/status-lists\/(\d+)$/.exec(req.url ?? '');
    if (match) {
      const list = Number(match[1]);
      hits.set(list, (hits.get(list) ?? 0) + 1);
      const answer = lists.get(list) ?? 404;
      if (typeof answer === 'number') return send(answer, '{"error":"x"}');
      // Answered later, so that concurrent verifications overlap while it is in flight.
      setTimeout(() => send(200, answer.body, answer.type ?? 'application/statuslist+jwt'), 20);
      return;
    }
    send(404, '{}');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => new Promise((resolve) => server.close(resolve)));
beforeEach(() => {
  lists = new Map();
  hits = new Map();
});

const listUri = (list: number) => `${url}/v1/status-lists/${list}`;

function sign(payload: object, header: object = {}, signer = key.privateKey): Promise<string> {
  return signCompact(
    base64url(JSON.stringify({ alg: 'ES256', kid: jwk.kid, ...header })),
    payload,
    async (input) => signLocal('ES256', signer, input),
  );
}

/** A Status List Token for `list` of 64 entries, VALID at `valid`. */
function listToken(
  list: number,
  valid: number[],
  claims: Record<string, unknown> = {},
  header: object = { typ: 'statuslist+jwt' },
  signer = key.privateKey,
): Promise<string> {
  const lst = base64url(deflateSync(encodeStatusBits(64, valid)));
  return sign(
    {
      iss: url,
      sub: listUri(list),
      iat: nowS(),
      exp: nowS() + 300,
      ttl: 30,
      status_list: { bits: 1, lst },
      ...claims,
    },
    header,
    signer,
  );
}

function token(idx: number, list = 0, status?: unknown): Promise<string> {
  return sign(
    {
      iss: url,
      aud: AUDIENCE,
      iat: nowS(),
      exp: nowS() + 600,
      status: status === undefined ? { status_list: { idx, uri: listUri(list) } } : status,
    },
    { typ: 'JWT' },
  );
}

const verifier = () =>
  createVerifier({
    issuer: url,
    audience: AUDIENCE,
    requireRunning: 'status-list',
    now: () => clock.ms,
  });

async function expectCode(
  v: ReturnType<typeof verifier>,
  jwt: string,
  code: VerificationErrorCode,
): Promise<JwtVerificationError> {
  const error = await v.verify(jwt).then(
    () => {
      throw new Error('accepted a token it should refuse');
    },
    (e: unknown) => e as JwtVerificationError,
  );
  expect(error).toBeInstanceOf(JwtVerificationError);
  expect(error.code).toBe(code);
  return error;
}

describe("requireRunning: 'status-list'", () => {
  it('accepts VALID entries and refuses INVALID ones from one fetch of the list per ttl', async () => {
    lists.set(0, { body: await listToken(0, [3, 5]) });
    const v = verifier();
    await v.verify(await token(3));
    await v.verify(await token(5));
    const error = await expectCode(v, await token(4), 'ERR_EXECUTION_NOT_RUNNING');
    expect(error.unavailable).toBe(false);
    expect(hits.get(0)).toBe(1);

    // Entry 5 ends; within ttl the cached list still says VALID, after it the new one is read.
    lists.set(0, { body: await listToken(0, [3]) });
    clock.ms += 29_000;
    await v.verify(await token(5));
    expect(hits.get(0)).toBe(1);
    clock.ms += 1_000;
    await expectCode(v, await token(5), 'ERR_EXECUTION_NOT_RUNNING');
    expect(hits.get(0)).toBe(2);
  });

  it('shares one fetch among concurrent verifications of a list', async () => {
    lists.set(1, { body: await listToken(1, [0, 1, 2]) });
    const v = verifier();
    const tokens = await Promise.all([0, 1, 2, 0, 1, 2].map((idx) => token(idx, 1)));
    await Promise.all(tokens.map((jwt) => v.verify(jwt)));
    expect(hits.get(1)).toBe(1);
  });

  it('refuses a token without a usable status.status_list, without fetching anything', async () => {
    const v = verifier();
    for (const status of [
      null,
      {},
      { status_list: { uri: listUri(0) } },
      { status_list: { idx: -1, uri: listUri(0) } },
      { status_list: { idx: 1.5, uri: listUri(0) } },
      { status_list: { idx: 0 } },
      { status_list: { idx: 0, uri: 'not a url' } },
      // Another origin could vouch for anything.
      { status_list: { idx: 0, uri: 'http://127.0.0.2:1/v1/status-lists/0' } },
    ]) {
      const error = await expectCode(v, await token(0, 0, status), 'ERR_JWT_CLAIM_INVALID');
      expect(error.claim).toBe('status');
    }
    expect(hits.size).toBe(0);
  });

  it("refuses a list that is not the issuer's signed statuslist+jwt for that uri", async () => {
    const cases: [string, Promise<string>, string?][] = [
      ['typ JWT', listToken(0, [0], {}, { typ: 'JWT' })],
      ['no typ', listToken(0, [0], {}, {})],
      ['sub of another list', listToken(0, [0], { sub: listUri(9) })],
      ['another issuer', listToken(0, [0], { iss: 'https://other.example' })],
      ['expired', listToken(0, [0], { exp: nowS() - 60 })],
      ['no iat', listToken(0, [0], { iat: undefined })],
      ['bits 3', listToken(0, [0], { status_list: { bits: 3, lst: 'eJwDAAAAAAE' } })],
      ['lst not zlib', listToken(0, [0], { status_list: { bits: 1, lst: 'AAAA' } })],
      [
        'signed by a stranger',
        listToken(0, [0], {}, { typ: 'statuslist+jwt' }, stranger.privateKey),
      ],
      ['HMAC', listToken(0, [0], {}, { typ: 'statuslist+jwt', alg: 'HS256' })],
      ['served as JSON', listToken(0, [0]), 'application/json'],
    ];
    for (const [what, body, type] of cases) {
      lists.set(0, type ? { body: await body, type } : { body: await body });
      const error = await expectCode(verifier(), await token(0), 'ERR_STATUS_LIST_INVALID');
      expect(error.unavailable, what).toBe(true);
    }
    // An idx past the end of the list.
    lists.set(0, { body: await listToken(0, [0]) });
    await expectCode(verifier(), await token(64), 'ERR_STATUS_LIST_INVALID');
  });

  it('fails closed when the list cannot be fetched, and backs off instead of asking per token', async () => {
    lists.set(2, 503);
    const v = verifier();
    const error = await expectCode(v, await token(0, 2), 'ERR_STATUS_LIST_FETCH_FAILED');
    expect(error.unavailable).toBe(true);
    await expectCode(v, await token(1, 2), 'ERR_STATUS_LIST_FETCH_FAILED');
    expect(hits.get(2)).toBe(1);
    clock.ms += 5_000;
    lists.set(2, { body: await listToken(2, [0]) });
    await v.verify(await token(0, 2));
    expect(hits.get(2)).toBe(2);
  });

  it('keeps using a list past its ttl while the issuer is down, until the list expires', async () => {
    lists.set(3, { body: await listToken(3, [7]) });
    const v = verifier();
    await v.verify(await token(7, 3));
    lists.set(3, 500);
    clock.ms += 31_000;
    await v.verify(await token(7, 3));
    await expectCode(v, await token(6, 3), 'ERR_EXECUTION_NOT_RUNNING');
    expect(hits.get(3)).toBe(2);
    clock.ms += 300_000;
    await expectCode(v, await token(7, 3), 'ERR_STATUS_LIST_FETCH_FAILED');
  });

  it('never trades its copy for a list issued before it (a replay cannot undo an end)', async () => {
    const running = await listToken(4, [5]);
    clock.ms += 10_000;
    lists.set(4, { body: await listToken(4, []) });
    const v = verifier();
    await expectCode(v, await token(5, 4), 'ERR_EXECUTION_NOT_RUNNING');
    // Someone on the path (or a stale cache) answers the next refresh with the older list,
    // still before its exp: the newer copy stands, and is not asked for again within ttl.
    lists.set(4, { body: running });
    clock.ms += 30_000;
    await expectCode(v, await token(5, 4), 'ERR_EXECUTION_NOT_RUNNING');
    expect(hits.get(4)).toBe(2);
    clock.ms += 29_000;
    await expectCode(v, await token(5, 4), 'ERR_EXECUTION_NOT_RUNNING');
    expect(hits.get(4)).toBe(2);
  });

  it('bounds its cache: the oldest of more than 256 lists is fetched again', async () => {
    const v = verifier();
    for (let list = 10; list < 10 + 257; list++) {
      lists.set(list, { body: await listToken(list, [0]) });
      await v.verify(await token(0, list));
    }
    expect(hits.get(10)).toBe(1);
    await v.verify(await token(0, 10));
    expect(hits.get(10)).toBe(2);
    await v.verify(await token(0, 10 + 256));
    expect(hits.get(10 + 256)).toBe(1);
  });
});
