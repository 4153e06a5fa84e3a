/**
 * Verifier hot path vs raw ES256 `crypto.verify` over the same signing input (issue 2, item 11:
 * target ratio >= 0.75). The verifier runs against a real local HTTP issuer, with the JWKS
 * cache warmed once; what is measured is everything a relying party pays per token after that:
 * parsing, header and key checks, the signature, the claims, and the promise.
 * Also `requireRunning: 'status-list'` vs plain verify (issue 16: target >= 0.7), with the
 * token's status list (65,536 entries, 1% running) cached as it is between two ttl refreshes.
 */
import { verify as cryptoVerify, generateKeyPairSync } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { performance } from 'node:perf_hooks';
import { deflateSync } from 'node:zlib';
import { encodeHeader, signCompact, signLocal } from '../src/jws/compact.js';
import { rawToDer } from '../src/jws/ecdsa.js';
import { toPublicJwk } from '../src/jws/jwk.js';
import { encodeStatusBits } from '../src/tokens/status-bits.js';
import { createVerifier, type Verifier } from '../src/verify/index.js';
import { cpuMs, median } from './stats.js';

/** Rates are per CPU-second of this process (see `cpuMs`), medians over the rounds. */
export interface VerifyBenchResult {
  verifierPerSec: number;
  rawVerifyPerSec: number;
  /** Median over rounds of verifier/raw, each round measuring both back to back. */
  ratio: number;
  statusListPerSec: number;
  /** Median over rounds of status-list verify / plain verify. */
  statusListRatio: number;
}

export interface VerifyBenchOptions {
  rounds?: number;
  /** Duration of each side of a round, in milliseconds. */
  roundMs?: number;
}

const BATCH = 200;
const AUDIENCE = 'https://deploy.example.com';

export async function benchVerify(options: VerifyBenchOptions = {}): Promise<VerifyBenchResult> {
  const rounds = options.rounds ?? 15;
  const roundMs = options.roundMs ?? 250;
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const jwk = toPublicJwk(publicKey, 'ES256');

  let statusList = '';
  const server = createServer((req, res) => {
    if (req.url === STATUS_LIST_PATH) {
      res.writeHead(200, { 'content-type': 'application/statuslist+jwt' });
      res.end(statusList);
      return;
    }
    const body =
      req.url === '/.well-known/openid-configuration'
        ? { issuer, jwks_uri: `${issuer}/.well-known/jwks.json` }
        : { keys: [jwk] };
    res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'max-age=3600' });
    res.end(JSON.stringify(body));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  try {
    const sign = async (input: Uint8Array) => signLocal('ES256', privateKey, input);
    const token = await signCompact(
      encodeHeader({ alg: 'ES256', kid: jwk.kid, typ: 'JWT' }),
      fullClaims(issuer),
      sign,
    );
    statusList = await signCompact(
      encodeHeader({ alg: 'ES256', kid: jwk.kid, typ: 'statuslist+jwt' }),
      statusListClaims(issuer),
      sign,
    );
    const signingInput = Buffer.from(token.slice(0, token.lastIndexOf('.')), 'ascii');
    const signature = Buffer.from(token.slice(token.lastIndexOf('.') + 1), 'base64url');
    const verifier = createVerifier({ issuer, audience: AUDIENCE });
    await verifier.verify(token); // warms discovery, the JWKS and the imported key
    // A ttl of an hour: the rounds measure the cached path, as between two refreshes.
    const withStatusList = createVerifier({
      issuer,
      audience: AUDIENCE,
      requireRunning: 'status-list',
    });
    await withStatusList.verify(token); // fetches and decodes the list once

    const viaVerifier = async (subject: Verifier = verifier): Promise<number> => {
      let ops = 0;
      const start = cpuMs();
      const end = performance.now() + roundMs;
      while (performance.now() < end) {
        for (let i = 0; i < BATCH; i++) await subject.verify(token);
        ops += BATCH;
      }
      return (ops * 1000) / (cpuMs() - start);
    };
    const raw = (): number => {
      let ops = 0;
      const start = cpuMs();
      const end = performance.now() + roundMs;
      // The cheapest check node:crypto offers: the bare key and a DER signature converted once,
      // outside the loop (an options object costs ~30 µs more per call on Node 24).
      const der = rawToDer(signature);
      while (performance.now() < end) {
        for (let i = 0; i < BATCH; i++) {
          if (!cryptoVerify('sha256', signingInput, publicKey, der))
            throw new Error('bad signature');
        }
        ops += BATCH;
      }
      return (ops * 1000) / (cpuMs() - start);
    };

    // Warm-up of both paths (JIT), then interleaved rounds; the order alternates so drift in
    // CPU frequency or neighbours' load does not favour one side.
    await viaVerifier();
    await viaVerifier(withStatusList);
    raw();
    const verifierRates: number[] = [];
    const rawRates: number[] = [];
    const ratios: number[] = [];
    const statusListRates: number[] = [];
    const statusListRatios: number[] = [];
    for (let round = 0; round < rounds; round++) {
      let v: number;
      let r: number;
      if (round % 2 === 0) {
        v = await viaVerifier();
        r = raw();
      } else {
        r = raw();
        v = await viaVerifier();
      }
      verifierRates.push(v);
      rawRates.push(r);
      ratios.push(v / r);
      // Plain and status-list verify back to back, alternating which goes first.
      let plain: number;
      let listed: number;
      if (round % 2 === 0) {
        plain = await viaVerifier();
        listed = await viaVerifier(withStatusList);
      } else {
        listed = await viaVerifier(withStatusList);
        plain = await viaVerifier();
      }
      statusListRates.push(listed);
      statusListRatios.push(listed / plain);
    }
    return {
      verifierPerSec: Math.round(median(verifierRates)),
      rawVerifyPerSec: Math.round(median(rawRates)),
      ratio: Math.round(median(ratios) * 1000) / 1000,
      statusListPerSec: Math.round(median(statusListRates)),
      statusListRatio: Math.round(median(statusListRatios) * 1000) / 1000,
    };
  } finally {
    await new Promise((resolve) => server.close(resolve));
  }
}

const STATUS_LIST_PATH = '/v1/status-lists/7';
const STATUS_LIST_SIZE = 65_536;

/** A Status List Token of the issuer's default size, 1% of its entries VALID (running). */
function statusListClaims(issuer: string): Record<string, unknown> {
  const now = Math.floor(Date.now() / 1000);
  const valid = Array.from({ length: STATUS_LIST_SIZE / 100 }, (_, i) => i * 100 + 42);
  return {
    iss: issuer,
    sub: `${issuer}${STATUS_LIST_PATH}`,
    iat: now,
    exp: now + 7200,
    ttl: 3600,
    status_list: {
      bits: 1,
      lst: deflateSync(encodeStatusBits(STATUS_LIST_SIZE, valid), { level: 9 }).toString(
        'base64url',
      ),
    },
  };
}

/** The claims the issuer mints (DESIGN "Claims"), so parsing costs what it costs in practice. */
function fullClaims(issuer: string): Record<string, unknown> {
  const now = Math.floor(Date.now() / 1000);
  return {
    iss: issuer,
    sub: 'workflow:wf-7f3a9c',
    aud: AUDIENCE,
    iat: now,
    nbf: now - 5,
    exp: now + 3600,
    jti: 'b1f4c2e8-6d0a-4c57-9a1e-3f2b7c9d8e01',
    execution_id: 'exec-20260101-000042',
    workflow_id: 'wf-7f3a9c',
    workflow_name: 'Nightly deploy',
    workflow_version: '42',
    project_id: 'proj-platform',
    owner: 'platform-team@example.com',
    mode: 'trigger',
    trigger: 'schedule',
    environment: 'production',
    instance: 'n8n-prod-1',
    started_at: now - 30,
    status: { status_list: { idx: 4242, uri: `${issuer}${STATUS_LIST_PATH}` } },
  };
}

// Run directly (`node dist-bench/bench/verify.js`), print the figures as JSON.
if (import.meta.url === `file://${process.argv[1]}`) {
  console.log(JSON.stringify(await benchVerify()));
}
