import type { JwsAlg } from './algorithms.js';
import { JwsError } from './errors.js';

/** A protected header that passed {@link checkProtectedHeader}. */
export interface ProtectedHeader {
  alg: JwsAlg;
  kid: string;
  typ?: string;
  [name: string]: unknown;
}

/**
 * The protected header rules, for the issuer and verifiers alike: `alg` in the allowlist
 * (checked first, so `none` and HS* never reach a key), a non-empty `kid`, no `crit` and no
 * `b64` (RFC 7515 §4.1.11, RFC 7797: we understand no extension, so any critical one, or an
 * unencoded payload, makes the token invalid), and `typ` absent or JWT.
 */
export function checkProtectedHeader(
  header: Record<string, unknown>,
  algorithms: ReadonlySet<JwsAlg>,
): ProtectedHeader {
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
  if (typ !== undefined && (typeof typ !== 'string' || !isJwtType(typ))) {
    throw new JwsError('typ', 'header typ must be JWT', 'typ');
  }
  return header as ProtectedHeader;
}

/** RFC 7519 §5.1: "JWT", compared as a media type (case-insensitive, optional application/). */
function isJwtType(typ: string): boolean {
  const lower = typ.toLowerCase();
  return lower === 'jwt' || lower === 'application/jwt';
}
