import type { JwsAlg } from './algorithms.js';
import { JwsError } from './errors.js';

/** A protected header that passed {@link checkProtectedHeader}. */
export interface ProtectedHeader {
  alg: JwsAlg;
  kid: string;
  typ?: string;
  [name: string]: unknown;
}

export interface HeaderRules {
  algorithms: ReadonlySet<JwsAlg>;
  /**
   * The media type `typ` names, without `application/` (RFC 7515 §4.1.9). Default `JWT`, and
   * then `typ` may be absent; another type (say `statuslist+jwt`) must be present.
   */
  typ?: string;
}

/**
 * The protected header rules, for the issuer and verifiers alike: `alg` in the allowlist
 * (checked first, so `none` and HS* never reach a key), a non-empty `kid`, no `crit` and no
 * `b64` (RFC 7515 §4.1.11, RFC 7797: we understand no extension, so any critical one, or an
 * unencoded payload, makes the token invalid), and `typ` absent or JWT (or the type asked for).
 */
export function checkProtectedHeader(
  header: Record<string, unknown>,
  rules: HeaderRules,
): ProtectedHeader {
  const { algorithms, typ: expected = 'JWT' } = rules;
  const { alg, kid, typ } = header;
  if (typeof alg !== 'string' || !algorithms.has(alg as JwsAlg)) {
    const named = typeof alg === 'string' ? ` ${JSON.stringify(alg.slice(0, 16))}` : '';
    throw new JwsError('alg_not_allowed', `alg${named} is not allowed`, 'alg');
  }
  if (typeof kid !== 'string' || kid === '') {
    throw new JwsError('no_kid', 'the header has no kid', 'kid');
  }
  if (header.crit !== undefined) {
    throw new JwsError('crit', 'critical header extensions are not supported', 'crit');
  }
  if (header.b64 !== undefined) {
    throw new JwsError('b64', 'the b64 header (unencoded payload) is not supported', 'b64');
  }
  if (typ === undefined ? expected !== 'JWT' : typeof typ !== 'string' || !isType(typ, expected)) {
    throw new JwsError('typ', `header typ must be ${expected}`, 'typ');
  }
  return header as ProtectedHeader;
}

/** RFC 7515 §4.1.9: a media type, compared case-insensitively, `application/` optional. */
function isType(typ: string, expected: string): boolean {
  const lower = typ.toLowerCase();
  const want = expected.toLowerCase();
  return lower === want || lower === `application/${want}`;
}
