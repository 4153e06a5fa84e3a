import { checkValidity, isNumericDate } from '../jws/validity.js';
import { JwtVerificationError } from './errors.js';

/**
 * The claims of a verified workflow identity token. The registered claims below are checked;
 * the workflow claims (`execution_id`, `workflow_id`, `workflow_name`, `project_id`, `owner`,
 * `environment`, ...) are as the issuer signed them, typed `unknown` because the verifier
 * does not vouch for their shape.
 *
 * @example
 * ```ts
 * const { payload }: { payload: TokenClaims } = await verifier.verify(token);
 * if (payload.workflow_id !== 'wf-deploy') throw new Error('not the deploy workflow');
 * ```
 */
export interface TokenClaims {
  iss: string;
  aud: string | string[];
  exp: number;
  sub?: string;
  iat?: number;
  nbf?: number;
  jti?: string;
  [claim: string]: unknown;
}

export interface ClaimRules {
  issuer: string;
  audiences: ReadonlySet<string>;
  /** Seconds. */
  clockTolerance: number;
}

function invalid(claim: string, why: string): never {
  throw new JwtVerificationError('ERR_JWT_CLAIM_INVALID', `claim ${claim} ${why}`, { claim });
}

/**
 * RFC 7519 §4.1 checks, with `nowMs` in milliseconds and the tolerance applied both ways.
 * Throws a JwtVerificationError, or a JwsError from the core's validity window.
 */
export function checkClaims(
  payload: Record<string, unknown>,
  rules: ClaimRules,
  nowMs: number,
): TokenClaims {
  if (payload.iss !== rules.issuer) invalid('iss', 'does not name the expected issuer');
  checkAudience(payload.aud, rules.audiences);
  for (const name of ['sub', 'jti'] as const) {
    if (payload[name] !== undefined && typeof payload[name] !== 'string') {
      invalid(name, 'must be a string');
    }
  }

  // exp and nbf: the JWS core's rule, with the relying party's leeway.
  checkValidity(payload, nowMs, rules.clockTolerance);
  const now = nowMs / 1000;
  const { iat } = payload;
  if (iat !== undefined) {
    if (!isNumericDate(iat)) invalid('iat', 'must be a NumericDate');
    // Issued in the future beyond the skew: a broken issuer clock, or a forged long-lived token.
    if ((iat as number) > now + rules.clockTolerance) {
      throw new JwtVerificationError(
        'ERR_JWT_NOT_YET_VALID',
        'the token was issued in the future',
        {
          claim: 'iat',
        },
      );
    }
  }
  return payload as TokenClaims;
}

function checkAudience(aud: unknown, audiences: ReadonlySet<string>): void {
  if (typeof aud === 'string') {
    if (!audiences.has(aud)) invalid('aud', 'names none of the accepted audiences');
    return;
  }
  if (!Array.isArray(aud) || aud.length === 0)
    invalid('aud', 'must be a string or an array of them');
  let match = false;
  for (const item of aud as unknown[]) {
    if (typeof item !== 'string') invalid('aud', 'must be a string or an array of them');
    if (audiences.has(item as string)) match = true;
  }
  if (!match) invalid('aud', 'names none of the accepted audiences');
}
