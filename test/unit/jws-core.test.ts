import { generateKeyPairSync } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { JwsAlg } from '../../src/jws/algorithms.js';
import { base64url, fromBase64url } from '../../src/jws/base64url.js';
import { signCompact, signLocal } from '../../src/jws/compact.js';
import { createCompactVerifier } from '../../src/jws/compact-verifier.js';
import { JwsError, type JwsFailure } from '../../src/jws/errors.js';
import { checkValidity } from '../../src/jws/validity.js';
import { junkToken, mutationOf, respellTrailingBits } from './token-arbitraries.js';

const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const KID = 'kid-1';
const ALGS: ReadonlySet<JwsAlg> = new Set(['ES256', 'RS256']);
const core = createCompactVerifier({ algorithms: ALGS });
const ES256_ONLY: ReadonlySet<JwsAlg> = new Set(['ES256']);

function sign(header: Record<string, unknown> = {}, payload: object = { iss: 'i', exp: 2e9 }) {
  const encoded = base64url(JSON.stringify({ alg: 'ES256', kid: KID, typ: 'JWT', ...header }));
  return signCompact(encoded, payload, async (input) => signLocal('ES256', privateKey, input));
}

/** read + check as both callers do them; the JwsFailure, or 'accepted'. */
function outcome(token: unknown): JwsFailure | 'accepted' {
  try {
    core.check(core.read(token), publicKey, ES256_ONLY);
    return 'accepted';
  } catch (err) {
    if (err instanceof JwsError) return err.failure;
    throw err;
  }
}

describe('strict base64url: one spelling per byte string', () => {
  it('decodes the canonical spelling and refuses every other one', () => {
    expect(fromBase64url('SGk').toString()).toBe('Hi');
    expect(fromBase64url('').length).toBe(0);
    // 'SGl' and 'SGm' decode to "Hi" leniently: only their unused bits differ from 'SGk'.
    for (const text of [
      'SGk=',
      'S+k',
      'S/k',
      'SG k',
      'SGkhS',
      'SGl',
      'SGm',
      'SGk\n',
      'A',
      '====',
    ]) {
      expect(() => fromBase64url(text), text).toThrow(TypeError);
    }
  });

  it('round-trips any bytes, and accepts a string only if it is the encoding of what it decodes to', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), (bytes) => {
        expect(fromBase64url(base64url(bytes)).equals(Buffer.from(bytes))).toBe(true);
      }),
    );
    fc.assert(
      fc.property(fc.string({ maxLength: 64 }), (text) => {
        let bytes: Buffer;
        try {
          bytes = fromBase64url(text);
        } catch (err) {
          expect(err).toBeInstanceOf(TypeError);
          return;
        }
        expect(bytes.toString('base64url')).toBe(text);
      }),
    );
  });
});

describe('JWS core: compact form and protected header', () => {
  it('accepts a well-formed token and hands back header, payload and signing input', async () => {
    const token = await sign();
    const read = core.read(token);
    expect(read.header).toEqual({ alg: 'ES256', kid: KID, typ: 'JWT' });
    expect(read.payload).toEqual({ iss: 'i', exp: 2e9 });
    expect(read.signingInput.toString()).toBe(token.slice(0, token.lastIndexOf('.')));
    expect(outcome(token)).toBe('accepted');
  });

  it('refuses a signature segment re-spelled with other unused trailing bits (same bytes)', async () => {
    const token = await sign();
    // An ES256 signature is 64 bytes: 86 characters, the last with 4 unused bits.
    expect(token.split('.')[2]).toHaveLength(86);
    for (let bits = 1; bits < 16; bits++) {
      const respelled = respellTrailingBits(token, 2, bits)!;
      expect(Buffer.from(respelled.split('.')[2]!, 'base64url')).toEqual(
        Buffer.from(token.split('.')[2]!, 'base64url'),
      );
      expect(outcome(respelled), respelled).toBe('malformed');
    }
  });

  it('refuses + and / in place of - and _, and padding', async () => {
    let token = await sign();
    // Sign until the signature holds a '-' or '_', so the standard-alphabet spelling differs.
    while (!/[-_]/.test(token.split('.')[2]!)) token = await sign();
    const standard = token.replaceAll('-', '+').replaceAll('_', '/');
    expect(Buffer.from(standard.split('.')[2]!, 'base64url')).toEqual(
      Buffer.from(token.split('.')[2]!, 'base64url'),
    );
    expect(outcome(standard)).toBe('malformed');
    expect(outcome(`${token}=`)).toBe('malformed');
    expect(outcome(`${token}==`)).toBe('malformed');
  });

  it('refuses anything but exactly three segments, over the size bound, or with non-object JSON', async () => {
    const [h, p, s] = (await sign()).split('.') as [string, string, string];
    const cases = [
      '',
      'abc',
      `${h}.${p}`,
      `${h}.${p}.${s}.`,
      `${h}.${p}.${s}.${s}`,
      `.${p}.${s}`,
      `${h}..${s}`,
      `${h}.${p}.${'A'.repeat(20_000)}`,
      `${h}.${base64url('[1]')}.${s}`,
      `${h}.${base64url('null')}.${s}`,
      `${h}.${base64url('{"a":1')}.${s}`,
      // Invalid UTF-8 in the payload: it would read as U+FFFD, one reading of many byte strings.
      `${h}.${Buffer.from([0x7b, 0x22, 0xff, 0x22, 0x3a, 0x31, 0x7d]).toString('base64url')}.${s}`,
      `${h}.${p}.${s.slice(0, 10)}\u0141${s.slice(11)}`,
      42,
      null,
    ];
    for (const token of cases) expect(outcome(token), String(token)).toBe('malformed');
  });

  it('refuses crit (any), b64 (true or false), a missing kid, typ other than JWT, alg outside the allowlist', async () => {
    expect(outcome(await sign({ crit: ['exp'], exp: 1 }))).toBe('crit');
    expect(outcome(await sign({ crit: [] }))).toBe('crit');
    expect(outcome(await sign({ b64: false, crit: ['b64'] }))).toBe('crit');
    expect(outcome(await sign({ b64: false }))).toBe('b64');
    expect(outcome(await sign({ b64: true }))).toBe('b64');
    expect(outcome(await sign({ kid: undefined }))).toBe('no_kid');
    expect(outcome(await sign({ kid: '' }))).toBe('no_kid');
    expect(outcome(await sign({ typ: 'at+jwt' }))).toBe('typ');
    expect(outcome(await sign({ typ: 'application/JWT' }))).toBe('accepted');
    expect(outcome(await sign({ typ: undefined }))).toBe('accepted');
    expect(outcome(await sign({ alg: 'ES384' }))).toBe('alg_not_allowed');
    expect(outcome(`${base64url('{"alg":"none","kid":"kid-1"}')}.${base64url('{}')}.`)).toBe(
      'alg_not_allowed',
    );
    // RS256 is allowlisted, but this key verifies ES256 only.
    expect(outcome(await sign({ alg: 'RS256' }))).toBe('alg_not_allowed');
  });

  it('checks typ against another media type when asked, and then requires it', async () => {
    const statusList = createCompactVerifier({ algorithms: ALGS, typ: 'statuslist+jwt' });
    const typOf = async (typ: unknown) => {
      try {
        statusList.read(await sign({ typ }));
        return 'accepted';
      } catch (err) {
        return (err as JwsError).failure;
      }
    };
    expect(await typOf('statuslist+jwt')).toBe('accepted');
    expect(await typOf('application/StatusList+JWT')).toBe('accepted');
    expect(await typOf(undefined)).toBe('typ');
    expect(await typOf('JWT')).toBe('typ');
  });

  it('refuses a header it refused before, every time (failures are not cached)', async () => {
    const token = await sign({ crit: ['x'] });
    expect(outcome(token)).toBe('crit');
    expect(outcome(token)).toBe('crit');
  });
});

describe('JWS core: validity window', () => {
  const at = (seconds: number) => seconds * 1000;
  const failure = (payload: Record<string, unknown>, nowMs: number, tolerance: number) => {
    try {
      checkValidity(payload, nowMs, tolerance);
      return 'valid';
    } catch (err) {
      return (err as JwsError).failure;
    }
  };

  it('is expired at exp and after, valid before; tolerance widens both ends', () => {
    expect(failure({ exp: 100 }, at(99.999), 0)).toBe('valid');
    expect(failure({ exp: 100 }, at(100), 0)).toBe('expired');
    expect(failure({ exp: 100 }, at(101), 0)).toBe('expired');
    expect(failure({ exp: 100 }, at(104), 5)).toBe('valid');
    expect(failure({ exp: 100, nbf: 50 }, at(49), 0)).toBe('not_yet_valid');
    expect(failure({ exp: 100, nbf: 50 }, at(49), 5)).toBe('valid');
    expect(failure({}, at(1), 0)).toBe('claim_invalid');
    expect(failure({ exp: '100' }, at(1), 0)).toBe('claim_invalid');
    expect(failure({ exp: 100, nbf: null }, at(1), 0)).toBe('claim_invalid');
  });
});

describe('JWS core: properties', () => {
  it('never accepts, and never throws anything but a JwsError, for any mutation of a valid token', async () => {
    const token = await sign();
    fc.assert(
      fc.property(mutationOf(token), (mutated) => {
        expect(outcome(mutated)).not.toBe('accepted');
      }),
      { numRuns: 2000 },
    );
  });

  it('never accepts, and never throws anything but a JwsError, for junk and crafted headers', () => {
    fc.assert(
      fc.property(junkToken([KID]), (junk) => {
        expect(outcome(junk)).not.toBe('accepted');
      }),
      { numRuns: 2000 },
    );
  });
});
