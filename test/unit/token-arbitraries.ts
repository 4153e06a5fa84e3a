/**
 * fast-check arbitraries for the property tests of the JWS core, the verifier and
 * introspection: tokens that are not tokens, and every kind of change to a valid one.
 */
import fc from 'fast-check';

const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';

/** Characters a mutation may write: the alphabet, its look-alikes and separators, and anything. */
const character = fc.oneof(
  fc.constantFrom(...ALPHABET),
  fc.constantFrom('+', '/', '=', '.', ' ', '\n', '\0', '%', '\u0141', '\u00e9', '\ud83d\ude00'),
  fc.string({ minLength: 1, maxLength: 1, unit: 'binary' }),
);

/**
 * The same bytes, spelled differently: the last character of a segment whose length leaves
 * unused bits gets other unused bits. Returns undefined if no segment has unused bits.
 */
export function respellTrailingBits(
  token: string,
  segment: number,
  bits: number,
): string | undefined {
  const parts = token.split('.');
  const text = parts[segment]!;
  const unused = text.length % 4 === 2 ? 4 : text.length % 4 === 3 ? 2 : 0;
  if (unused === 0) return undefined;
  const value = ALPHABET.indexOf(text.at(-1)!);
  const mask = (1 << unused) - 1;
  const other = (value & ~mask) | (bits & mask || 1);
  parts[segment] = text.slice(0, -1) + ALPHABET[other];
  return parts.join('.');
}

/** A valid token changed in one of many ways; never equal to the original. */
export function mutationOf(token: string): fc.Arbitrary<string> {
  const index = fc.nat({ max: token.length - 1 });
  return fc
    .oneof(
      // One character replaced, inserted or deleted.
      fc.tuple(index, character).map(([i, c]) => token.slice(0, i) + c + token.slice(i + 1)),
      fc.tuple(index, character).map(([i, c]) => token.slice(0, i) + c + token.slice(i)),
      index.map((i) => token.slice(0, i) + token.slice(i + 1)),
      // One bit of one character's code flipped.
      fc
        .tuple(index, fc.nat({ max: 7 }))
        .map(
          ([i, bit]) =>
            token.slice(0, i) +
            String.fromCharCode(token.charCodeAt(i) ^ (1 << bit)) +
            token.slice(i + 1),
        ),
      // Two characters swapped, a range cut out, a range duplicated.
      fc.tuple(index, index).map(([i, j]) => {
        const chars = [...token];
        [chars[i], chars[j]] = [chars[j]!, chars[i]!];
        return chars.join('');
      }),
      fc
        .tuple(index, index)
        .map(([i, j]) => token.slice(0, Math.min(i, j)) + token.slice(Math.max(i, j) + 1)),
      fc
        .tuple(index, index)
        .map(([i, j]) => token.slice(0, Math.max(i, j)) + token.slice(Math.min(i, j))),
      // Other unused trailing bits (the same bytes), padding, the standard alphabet, segments moved.
      fc
        .tuple(fc.nat({ max: 2 }), fc.nat({ max: 15 }))
        .map(([segment, bits]) => respellTrailingBits(token, segment, bits) ?? `${token}=`),
      fc.constantFrom(
        `${token}=`,
        `${token}==`,
        token.replaceAll('-', '+').replaceAll('_', '/'),
        `${token}.`,
        `.${token}`,
        token.split('.').reverse().join('.'),
        token.split('.').slice(0, 2).join('.'),
        `${token.slice(0, token.lastIndexOf('.'))}.`,
        ` ${token}`,
        `${token}\n`,
      ),
    )
    .filter((mutated) => mutated !== token);
}

/** Strings that look more or less like a token, and headers an attacker would write. */
export function junkToken(kids: readonly string[]): fc.Arbitrary<string> {
  const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
  const segment = fc.oneof(
    fc.string({ unit: fc.constantFrom(...ALPHABET) }),
    fc.uint8Array({ maxLength: 300 }).map((bytes) => Buffer.from(bytes).toString('base64url')),
    fc.jsonValue().map(b64),
    fc.string(),
  );
  const header = fc.record(
    {
      alg: fc.oneof(
        fc.constantFrom(
          'none',
          'None',
          'HS256',
          'ES256',
          'RS256',
          'PS256',
          'EdDSA',
          'ES384',
          'es256',
        ),
        fc.jsonValue(),
      ),
      kid: fc.oneof(fc.constantFrom(...kids, ''), fc.jsonValue()),
      typ: fc.oneof(fc.constantFrom('JWT', 'jwt', 'at+jwt'), fc.jsonValue()),
      crit: fc.oneof(fc.constant(['b64']), fc.array(fc.string()), fc.jsonValue()),
      b64: fc.oneof(fc.boolean(), fc.jsonValue()),
      jwk: fc.jsonValue(),
    },
    { requiredKeys: [] },
  );
  return fc.oneof(
    fc.string({ maxLength: 400 }),
    fc.string({ maxLength: 400, unit: 'binary' }),
    fc.tuple(segment, segment, segment).map((parts) => parts.join('.')),
    fc
      .tuple(header, fc.dictionary(fc.string(), fc.jsonValue()), segment)
      .map(([h, p, s]) => `${b64(h)}.${b64(p)}.${s}`),
    fc.array(segment, { maxLength: 6 }).map((parts) => parts.join('.')),
  );
}
