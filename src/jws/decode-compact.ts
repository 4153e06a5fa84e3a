import { isUtf8 } from 'node:buffer';
import { fromBase64url } from './base64url.js';
import { JwsError } from './errors.js';

/** Far above any real token; bounds the work anyone can ask of a verifier or the issuer. */
export const MAX_TOKEN_LENGTH = 16_384;

/** A compact JWS split and decoded; the header stays encoded so it can be checked once per text. */
export interface CompactParts {
  encodedHeader: string;
  payload: Record<string, unknown>;
  /** `header.payload` as ASCII bytes: what the signature covers. */
  signingInput: Buffer;
  signature: Buffer;
}

/**
 * Splits a compact JWS (RFC 7515 §7.1) with a JSON object payload: exactly three segments,
 * each strict base64url, within `maxLength` ({@link MAX_TOKEN_LENGTH} unless a document such
 * as a status list needs more). The header is not decoded here. Throws a JwsError `malformed`.
 */
export function decodeCompact(token: unknown, maxLength = MAX_TOKEN_LENGTH): CompactParts {
  if (typeof token !== 'string' || token.length > maxLength) {
    throw malformed('not a compact JWS within the size bound');
  }
  const first = token.indexOf('.');
  const last = token.lastIndexOf('.');
  if (first <= 0 || first === last || token.indexOf('.', first + 1) !== last) {
    throw malformed('not three dot-separated segments');
  }
  const payload = decodeJsonSegment(token.slice(first + 1, last), 'payload');
  let signature: Buffer;
  try {
    signature = fromBase64url(token.slice(last + 1));
  } catch {
    throw malformed('the signature is not base64url');
  }
  return {
    encodedHeader: token.slice(0, first),
    payload,
    // The segments are strict base64url, hence ASCII: latin1 is the fastest exact conversion.
    signingInput: Buffer.from(token.slice(0, last), 'latin1'),
    signature,
  };
}

/** A base64url segment holding a UTF-8 JSON object (a JOSE header or JWT claims). */
export function decodeJsonSegment(segment: string, what: string): Record<string, unknown> {
  let bytes: Buffer;
  try {
    bytes = fromBase64url(segment);
  } catch {
    throw malformed(`the ${what} is not base64url`);
  }
  // Invalid UTF-8 would decode to U+FFFD: two byte strings, one reading. Refuse it instead.
  if (bytes.length === 0 || !isUtf8(bytes)) throw malformed(`the ${what} is not UTF-8 JSON`);
  let value: unknown;
  try {
    value = JSON.parse(bytes.toString('utf8'));
  } catch {
    throw malformed(`the ${what} is not JSON`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw malformed(`the ${what} is not a JSON object`);
  }
  return value as Record<string, unknown>;
}

function malformed(message: string): JwsError {
  return new JwsError('malformed', message);
}
