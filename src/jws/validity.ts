import { JwsError } from './errors.js';

/**
 * The validity window of a JWT (RFC 7519 §4.1.4, §4.1.5): `exp` required, and the token is
 * expired at `exp` itself; `nbf`, if present, not in the future. `toleranceS` widens the
 * window both ways for relying parties whose clocks differ from the issuer's; the issuer's
 * own introspection answer uses none. `nowMs` is in milliseconds.
 */
export function checkValidity(
  payload: Record<string, unknown>,
  nowMs: number,
  toleranceS: number,
): void {
  const now = nowMs / 1000;
  const { exp, nbf } = payload;
  if (exp === undefined) throw new JwsError('claim_invalid', 'claim exp is required', 'exp');
  if (!isNumericDate(exp)) {
    throw new JwsError('claim_invalid', 'claim exp must be a NumericDate', 'exp');
  }
  if (now - toleranceS >= exp) throw new JwsError('expired', 'the token has expired', 'exp');
  if (nbf !== undefined) {
    if (!isNumericDate(nbf)) {
      throw new JwsError('claim_invalid', 'claim nbf must be a NumericDate', 'nbf');
    }
    if (nbf > now + toleranceS) {
      throw new JwsError('not_yet_valid', 'the token is not valid yet', 'nbf');
    }
  }
}

export function isNumericDate(value: unknown): value is number {
  return typeof value === 'number' && Number.isFinite(value);
}
