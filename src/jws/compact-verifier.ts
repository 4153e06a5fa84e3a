import type { KeyObject } from 'node:crypto';
import type { JwsAlg } from './algorithms.js';
import { verifySignature } from './compact.js';
import { type CompactParts, decodeCompact, decodeJsonSegment } from './decode-compact.js';
import { JwsError } from './errors.js';
import {
  checkProtectedHeader,
  type HeaderRules,
  type ProtectedHeader,
} from './protected-header.js';

/** A compact JWS whose form and protected header passed every rule; not yet its signature. */
export interface ReadJws extends CompactParts {
  header: ProtectedHeader;
}

/**
 * The JWS validation both the issuer's introspection and the verifier library use. Where the
 * key comes from is theirs to say (the key ring, a fetched JWKS), so it takes two steps:
 * `read` the token, find the key named by `header.kid`, then `check` the signature with it.
 * Both throw a JwsError.
 */
export interface CompactVerifier {
  read(token: unknown): ReadJws;
  /** `keyAlgs`: the allowlisted algs this key may verify (fit for its type, equal to its JWK alg). */
  check(jws: ReadJws, publicKey: KeyObject, keyAlgs: ReadonlySet<JwsAlg>): void;
}

/** Distinct headers remembered; a real issuer has a handful (one per published key). */
const MAX_CACHED_HEADERS = 64;

export function createCompactVerifier(
  rules: HeaderRules & {
    /** Longest compact form read; default MAX_TOKEN_LENGTH (a status list may be longer). */
    maxLength?: number;
  },
): CompactVerifier {
  // Every token of a key carries the same header text: decode and check it once. A header
  // that fails is not cached; failing again is the cost of sending it.
  const headers = new Map<string, ProtectedHeader>();
  const headerOf = (encoded: string): ProtectedHeader => {
    let header = headers.get(encoded);
    if (!header) {
      header = Object.freeze(checkProtectedHeader(decodeJsonSegment(encoded, 'header'), rules));
      if (headers.size >= MAX_CACHED_HEADERS) headers.clear();
      headers.set(encoded, header);
    }
    return header;
  };

  return {
    read(token) {
      const { encodedHeader, payload, signingInput, signature } = decodeCompact(
        token,
        rules.maxLength,
      );
      const header = headerOf(encodedHeader);
      return { encodedHeader, header, payload, signingInput, signature };
    },
    check(jws, publicKey, keyAlgs) {
      if (!keyAlgs.has(jws.header.alg)) {
        throw new JwsError(
          'alg_not_allowed',
          `the key of this kid does not verify ${jws.header.alg}`,
          'alg',
        );
      }
      if (!verifySignature(jws.header.alg, publicKey, jws.signingInput, jws.signature)) {
        throw new JwsError('signature_invalid', 'signature verification failed');
      }
    },
  };
}
