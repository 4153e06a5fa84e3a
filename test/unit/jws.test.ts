import {
  createPrivateKey,
  createPublicKey,
  sign as cryptoSign,
  verify as cryptoVerify,
  generateKeyPairSync,
  type JsonWebKey,
} from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { fromBase64url } from '../../src/jws/base64url.js';
import { signLocal, signLocalAsync, verifySignature } from '../../src/jws/compact.js';
import { decodeCompact } from '../../src/jws/decode-compact.js';
import { derToRaw, rawToDer } from '../../src/jws/ecdsa.js';
import { jwkThumbprint, toPublicJwk } from '../../src/jws/jwk.js';

/** RFC 7515 Appendix A.3: ES256 over the JWT `{"iss":"joe",...}` (with its CRLFs). */
const RFC7515_A3 = {
  jwk: {
    kty: 'EC',
    crv: 'P-256',
    x: 'f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU',
    y: 'x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0',
  },
  token:
    'eyJhbGciOiJFUzI1NiJ9' +
    '.eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlfQ' +
    '.DtEhU3ljbEg8L38VWAfUAqOyKAM6-Xx-F4GawxaepmXFCgfTjDxw5djxLa8ISlSApmWQxfKTUJqPP3-Kg6NU1Q',
};

/** RFC 7520 §3.4 (public part) and §4.1: RS256 over a non-JSON payload (Tolkien). */
const RFC7520_4_1 = {
  jwk: {
    kty: 'RSA',
    n:
      'n4EPtAOCc9AlkeQHPzHStgAbgs7bTZLwUBZdR8_KuKPEHLd4rHVTeT-O-XV2jRojdNhxJWTDvNd7nqQ0VEiZQHz_' +
      'AJmSCpMaJMRBSFKrKb2wqVwGU_NsYOYL-QtiWN2lbzcEe6XC0dApr5ydQLrHqkHHig3RBordaZ6Aj-oBHqFEHYpPe7T' +
      'pe-OfVfHd1E6cS6M1FZcD1NNLYD5lFHpPI9bTwJlsde3uhGqC0ZCuEHg8lhzwOHrtIQbS0FVbb9k3-tVTU4fg_3L_vn' +
      'iUFAKwuCLqKnS2BYwdq_mzSnbLY7h_qixoR7jig3__kRhuaxwUkRz5iaiQkqgc5gHdrNP5zw',
    e: 'AQAB',
  },
  token:
    'eyJhbGciOiJSUzI1NiIsImtpZCI6ImJpbGJvLmJhZ2dpbnNAaG9iYml0b24uZXhhbXBsZSJ9' +
    '.SXTigJlzIGEgZGFuZ2Vyb3VzIGJ1c2luZXNzLCBGcm9kbywgZ29pbmcgb3V0IHlvdXIgZG9vci4gWW91IHN0ZXAgb250' +
    'byB0aGUgcm9hZCwgYW5kIGlmIHlvdSBkb24ndCBrZWVwIHlvdXIgZmVldCwgdGhlcmXigJlzIG5vIGtub3dpbmcgd2hl' +
    'cmUgeW91IG1pZ2h0IGJlIHN3ZXB0IG9mZiB0by4' +
    '.MRjdkly7_-oTPTS3AXP41iQIGKa80A0ZmTuV5MEaHoxnW2e5CZ5NlKtainoFmKZopdHM1O2U4mwzJdQx996ivp83xugl' +
    'II7PNDi84wnB-BDkoBwA78185hX-Es4JIwmDLJK3lfWRa-XtL0RnltuYv746iYTh_qHRD68BNt1uSNCrUCTJDt5aAE6x' +
    '8wW1Kt9eRo4QPocSadnHXFxnt8Is9UzpERV0ePPQdLuW3IS_de3xyIrDaLGdjluPxUAhb6L2aXic1U12podGU0KLUQSE' +
    '_oI-ZnmKJ3F4uOZDnd6QZWJushZ41Axf_fcIe8u9ipH84ogoree7vjbU5y18kDquDg',
};

/** RFC 8037 Appendix A.1, A.3, A.4: Ed25519 key, its thumbprint, and a (deterministic) JWS. */
const RFC8037 = {
  jwk: {
    kty: 'OKP',
    crv: 'Ed25519',
    d: 'nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A',
    x: '11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo',
  },
  thumbprint: 'kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k',
  token:
    'eyJhbGciOiJFZERTQSJ9.RXhhbXBsZSBvZiBFZDI1NTE5IHNpZ25pbmc' +
    '.hgyY0il_MGCjP0JzlnLWG1PPOt7-09PGcvMg3AIbQR6dWbhijcNR4ki4iylGjg5BhVsPt9g7sVvpAr_MuM0KAg',
};

/** RFC 7638 §3.1: the RSA key whose thumbprint the RFC computes. */
const RFC7638_3_1 = {
  jwk: {
    kty: 'RSA',
    n:
      '0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECP' +
      'ebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2Qvzq' +
      'Y368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0' +
      'fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw',
    e: 'AQAB',
    alg: 'RS256',
    kid: '2011-04-29',
  },
  thumbprint: 'NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs',
};

function signingParts(token: string): { input: Buffer; signature: Buffer } {
  const last = token.lastIndexOf('.');
  return {
    input: Buffer.from(token.slice(0, last), 'ascii'),
    signature: fromBase64url(token.slice(last + 1)),
  };
}

describe('RFC vectors', () => {
  it('verifies the RFC 7515 A.3 ES256 example with its JWK, and parses its claims', () => {
    const key = createPublicKey({ key: RFC7515_A3.jwk, format: 'jwk' });
    const { input, signature } = signingParts(RFC7515_A3.token);
    expect(verifySignature('ES256', key, input, signature)).toBe(true);
    expect(decodeCompact(RFC7515_A3.token).payload).toEqual({
      iss: 'joe',
      exp: 1300819380,
      'http://example.com/is_root': true,
    });
    // One flipped bit, or the right bytes under the wrong algorithm, must fail.
    const tampered = Buffer.from(signature);
    tampered[10]! ^= 0x01;
    expect(verifySignature('ES256', key, input, tampered)).toBe(false);
    expect(verifySignature('ES256', key, Buffer.concat([input, Buffer.from(' ')]), signature)).toBe(
      false,
    );
    expect(verifySignature('ES384', key, input, signature)).toBe(false);
    // The DER form of the same signature is not a JWS signature.
    expect(verifySignature('ES256', key, input, Buffer.from(rawToDer(signature)))).toBe(false);
  });

  it('verifies the RFC 7520 §4.1 RS256 example, whose payload is not JSON', () => {
    const key = createPublicKey({ key: RFC7520_4_1.jwk, format: 'jwk' });
    const { input, signature } = signingParts(RFC7520_4_1.token);
    expect(verifySignature('RS256', key, input, signature)).toBe(true);
    expect(verifySignature('PS256', key, input, signature)).toBe(false);
    // A JWS, but not a JWT: decodeCompact wants a JSON object payload.
    expect(() => decodeCompact(RFC7520_4_1.token)).toThrow(/not JSON/);
  });

  it('reproduces the RFC 8037 A.4 Ed25519 signature and A.3 thumbprint', () => {
    const privateKey = createPrivateKey({ key: RFC8037.jwk, format: 'jwk' });
    const publicKey = createPublicKey(privateKey);
    const { input, signature } = signingParts(RFC8037.token);
    expect(Buffer.from(signLocal('EdDSA', privateKey, input)).equals(signature)).toBe(true);
    expect(verifySignature('EdDSA', publicKey, input, signature)).toBe(true);
    expect(toPublicJwk(publicKey, 'EdDSA').kid).toBe(RFC8037.thumbprint);
  });

  it('computes the RFC 7638 §3.1 thumbprint, from the JWK and from the key object', () => {
    expect(jwkThumbprint(RFC7638_3_1.jwk)).toBe(RFC7638_3_1.thumbprint);
    const key = createPublicKey({ key: RFC7638_3_1.jwk as JsonWebKey, format: 'jwk' });
    const jwk = toPublicJwk(key, 'RS256');
    expect(jwk).toMatchObject({ kid: RFC7638_3_1.thumbprint, alg: 'RS256', use: 'sig' });
    // Public members only, whatever the key object could export.
    expect(Object.keys(jwk).sort()).toEqual(['alg', 'e', 'kid', 'kty', 'n', 'use']);
  });

  it('refuses to publish a private key', () => {
    const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    expect(() => toPublicJwk(privateKey, 'ES256')).toThrow(TypeError);
  });
});

describe('ECDSA DER <-> raw r||s', () => {
  const hex = (text: string) => Uint8Array.from(Buffer.from(text.replace(/\s/g, ''), 'hex'));

  it('round-trips real signatures both ways, for P-256 and P-384', () => {
    for (const [curve, size, hash] of [
      ['P-256', 32, 'sha256'],
      ['P-384', 48, 'sha384'],
    ] as const) {
      const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: curve });
      // Enough signatures that some r or s has its high bit set (DER pads with 0x00) and
      // some start with a zero byte (DER drops it; raw keeps it).
      let padded = 0;
      for (let i = 0; i < 200; i++) {
        const data = Buffer.from(`message ${i}`);
        const der = cryptoSign(hash, data, { key: privateKey, dsaEncoding: 'der' });
        const raw = derToRaw(der, size);
        expect(raw).toHaveLength(size * 2);
        expect(cryptoVerify(hash, data, { key: publicKey, dsaEncoding: 'ieee-p1363' }, raw)).toBe(
          true,
        );
        expect(Buffer.from(rawToDer(raw)).equals(der)).toBe(true);
        if (der[4] === 0) padded++;
      }
      expect(padded).toBeGreaterThan(0);
    }
  });

  it('signs and verifies ECDSA exactly as node:crypto does with ieee-p1363 (the fast path is the same signature)', () => {
    for (const [alg, curve, size, hash] of [
      ['ES256', 'P-256', 32, 'sha256'],
      ['ES384', 'P-384', 48, 'sha384'],
    ] as const) {
      const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: curve });
      const p1363 = { key: publicKey, dsaEncoding: 'ieee-p1363' } as const;
      for (let i = 0; i < 50; i++) {
        const data = Buffer.from(`token ${i}`);
        const ours = signLocal(alg, privateKey, data);
        expect(ours).toHaveLength(size * 2);
        expect(cryptoVerify(hash, data, p1363, ours)).toBe(true);
        const nodes = cryptoSign(hash, data, { key: privateKey, dsaEncoding: 'ieee-p1363' });
        expect(verifySignature(alg, publicKey, data, nodes)).toBe(true);
        expect(verifySignature(alg, publicKey, Buffer.from(`token ${i + 1}`), nodes)).toBe(false);
      }
      const good = signLocal(alg, privateKey, Buffer.from('x'));
      // One byte short or long, all zeros, or r||s of the other curve's size: invalid, never thrown.
      for (const bad of [
        good.subarray(1),
        Buffer.concat([good, Buffer.alloc(1)]),
        new Uint8Array(size * 2),
        new Uint8Array(size === 32 ? 96 : 64),
      ]) {
        expect(verifySignature(alg, publicKey, Buffer.from('x'), bad)).toBe(false);
      }
    }
  });

  it('signs on the thread pool exactly as it signs synchronously, for every algorithm', async () => {
    const keyPairs = {
      ES256: () => generateKeyPairSync('ec', { namedCurve: 'P-256' }),
      ES384: () => generateKeyPairSync('ec', { namedCurve: 'P-384' }),
      RS256: () => generateKeyPairSync('rsa', { modulusLength: 2048 }),
      PS256: () => generateKeyPairSync('rsa', { modulusLength: 2048 }),
      EdDSA: () => generateKeyPairSync('ed25519'),
    } as const;
    for (const [alg, keyPair] of Object.entries(keyPairs) as [
      keyof typeof keyPairs,
      () => ReturnType<typeof generateKeyPairSync>,
    ][]) {
      const { privateKey, publicKey } = keyPair();
      const data = Buffer.from(`token for ${alg}`);
      const signature = await signLocalAsync(alg, privateKey, data);
      expect(signature).toHaveLength(signLocal(alg, privateKey, data).length);
      expect(verifySignature(alg, publicKey, data, signature), alg).toBe(true);
      expect(verifySignature(alg, publicKey, Buffer.from('another'), signature), alg).toBe(false);
    }
  });

  it('keeps leading zeros in raw form and drops them in DER', () => {
    const raw = new Uint8Array(64);
    raw[31] = 0x01; // r = 1
    raw.fill(0xff, 32); // s = 2^256 - 1: high bit set, needs a 0x00 pad
    const der = rawToDer(raw);
    expect(Buffer.from(der).toString('hex')).toBe(`3026020101022100${'ff'.repeat(32)}`);
    expect(Buffer.from(derToRaw(der, 32)).equals(Buffer.from(raw))).toBe(true);
  });

  it('uses the long length form once the sequence passes 127 bytes (P-521 sizes)', () => {
    const raw = new Uint8Array(132).fill(0x80);
    const der = rawToDer(raw);
    expect(der.slice(0, 3)).toEqual(Uint8Array.from([0x30, 0x81, 2 * (2 + 67)]));
    expect(Buffer.from(derToRaw(der, 66)).equals(Buffer.from(raw))).toBe(true);
  });

  it('accepts redundant leading zeros from lax encoders, as the value is unchanged', () => {
    expect(derToRaw(hex('3008 0203 000001 0201 02'), 32)).toEqual(
      Uint8Array.from([...new Uint8Array(31), 1, ...new Uint8Array(31), 2]),
    );
  });

  it('refuses malformed DER', () => {
    const bad = [
      '',
      '30',
      '3106 020101 020101', // not a SEQUENCE
      '3006 020101 020101 00', // trailing byte
      '3007 020101 020101', // sequence length too long
      '3006 030101 020101', // not an INTEGER
      '3006 020181 020101', // negative r
      '3005 020100 0201', // truncated s
      '3004 0200 0200', // empty INTEGERs
      `3025 0221 01${'ff'.repeat(32)} 020101`, // r too large for P-256
      '3080 020101 020101', // indefinite length
      '3006 020101 020101 3000', // a second sequence
    ];
    for (const text of bad) expect(() => derToRaw(hex(text), 32), text).toThrow(TypeError);
  });

  it('refuses raw signatures of odd or zero length', () => {
    expect(() => rawToDer(new Uint8Array(0))).toThrow(TypeError);
    expect(() => rawToDer(new Uint8Array(63))).toThrow(TypeError);
  });
});
