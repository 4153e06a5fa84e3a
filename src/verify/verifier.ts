import type { JwsAlg } from '../jws/algorithms.js';
import { createCompactVerifier, type ReadJws } from '../jws/compact-verifier.js';
import { JwsError, type JwsFailure } from '../jws/errors.js';
import { checkClaims, type TokenClaims } from './claims.js';
import { IssuerDiscovery } from './discovery.js';
import { JwtVerificationError, type VerificationErrorCode } from './errors.js';
import { ExecutionStatusCheck } from './introspection.js';
import { IssuerKeySet } from './key-set.js';
import { resolveOptions, type VerifierOptions } from './options.js';
import { StatusListCheck } from './status-list.js';

/**
 * The protected header of a verified token; `alg` is one of the allowed algorithms.
 *
 * @example
 * ```ts
 * const { header } = await verifier.verify(token);
 * console.log(`signed with ${header.alg} key ${header.kid}`);
 * ```
 */
export interface VerifiedHeader {
  alg: JwsAlg;
  kid: string;
  typ?: string;
  [name: string]: unknown;
}

/**
 * What `verify` resolves with: the checked claims and the protected header.
 *
 * @example
 * ```ts
 * const { payload, header }: VerifiedToken = await verifier.verify(token);
 * ```
 */
export interface VerifiedToken {
  payload: TokenClaims;
  header: VerifiedHeader;
}

/**
 * A verifier bound to one issuer and audience set, made by {@link createVerifier}. Create one
 * per process and reuse it: it holds the JWKS cache.
 *
 * @example
 * ```ts
 * const verifier: Verifier = createVerifier({ issuer, audience: 'my-service' });
 * const { payload } = await verifier.verify(token);
 * ```
 */
export interface Verifier {
  readonly issuer: string;
  /**
   * Verifies a compact JWT: signature against the issuer's JWKS, algorithm allowlist, `iss`,
   * `aud`, `exp`, `nbf`, `iat`, and (with `requireRunning`) the execution's status.
   * Rejects with a {@link JwtVerificationError}.
   */
  verify(token: string): Promise<VerifiedToken>;
}

/**
 * A verifier of workflow identity tokens for one issuer and audience, for relying parties.
 * It finds the issuer's keys through OIDC discovery, caches them per Cache-Control, and with
 * a warm cache verifies a token without leaving the current tick.
 *
 * @example
 * ```ts
 * import { createVerifier, isJwtVerificationError } from 'workflow-identity/verify';
 *
 * const verifier = createVerifier({
 *   issuer: 'https://wfid.example.com',
 *   audience: 'https://deploy.example.com',
 *   requireRunning: true,
 * });
 * try {
 *   const { payload } = await verifier.verify(token);
 *   console.log(payload.sub, payload.workflow_id);
 * } catch (err) {
 *   if (isJwtVerificationError(err)) return reply(err.unavailable ? 503 : 401);
 *   throw err;
 * }
 * ```
 */
export function createVerifier(options: VerifierOptions): Verifier {
  const resolved = resolveOptions(options);
  const { algorithms, now } = resolved;
  const http = { fetch: resolved.fetch, timeoutMs: resolved.timeoutMs };
  const discovery = new IssuerDiscovery(
    http,
    resolved.issuer,
    resolved.requireRunning === 'introspection',
  );
  const keys = new IssuerKeySet(
    { ...http, algorithms, jwksCooldownMs: resolved.jwksCooldownMs, now },
    discovery,
  );
  const status =
    resolved.requireRunning === 'introspection'
      ? new ExecutionStatusCheck(
          { ...http, cacheTtlMs: resolved.introspectionCacheTtlMs, now },
          discovery,
        )
      : undefined;
  const statusList =
    resolved.requireRunning === 'status-list'
      ? new StatusListCheck(
          {
            ...http,
            issuer: resolved.issuer,
            algorithms,
            clockTolerance: resolved.clockTolerance,
            now,
          },
          keys,
        )
      : undefined;
  const rules = {
    issuer: resolved.issuer,
    audiences: resolved.audiences,
    clockTolerance: resolved.clockTolerance,
  };

  // Form, header and signature rules are the JWS core's, shared with the issuer.
  const jws = createCompactVerifier({ algorithms });

  return {
    issuer: resolved.issuer,
    async verify(token: string): Promise<VerifiedToken> {
      let read: ReadJws;
      try {
        read = jws.read(token);
      } catch (err) {
        throw verificationError(err);
      }
      const { kid } = read.header;
      // Warm cache: no await at all; otherwise one, for the (deduplicated) JWKS fetch.
      const key = keys.current(kid) ?? (await keys.resolve(kid));
      let payload: TokenClaims;
      try {
        jws.check(read, key.key, key.algs);
        payload = checkClaims(read.payload, rules, now());
      } catch (err) {
        throw verificationError(err);
      }
      if (statusList) {
        // Fresh list in the cache: no await, as for the signature.
        const pending = statusList.check(payload);
        if (pending) await pending;
      } else if (status) {
        await status.assertRunning(
          token,
          payload.jti ?? `sig:${token.slice(token.lastIndexOf('.') + 1)}`,
        );
      }
      return { payload, header: read.header };
    },
  };
}

/** The verifier's public code for each refusal of the JWS core (a closed, stable mapping). */
const CODES: Record<JwsFailure, VerificationErrorCode> = {
  malformed: 'ERR_JWT_MALFORMED',
  no_kid: 'ERR_JWT_MALFORMED',
  crit: 'ERR_JWT_MALFORMED',
  b64: 'ERR_JWT_MALFORMED',
  alg_not_allowed: 'ERR_JWS_ALG_NOT_ALLOWED',
  typ: 'ERR_JWT_CLAIM_INVALID',
  signature_invalid: 'ERR_JWS_SIGNATURE_INVALID',
  claim_invalid: 'ERR_JWT_CLAIM_INVALID',
  expired: 'ERR_JWT_EXPIRED',
  not_yet_valid: 'ERR_JWT_NOT_YET_VALID',
};

function verificationError(err: unknown): unknown {
  if (!(err instanceof JwsError)) return err;
  const code = CODES[err.failure];
  // `claim` names a claim or the typ header, as it always has; never alg, kid or crit.
  const named =
    code === 'ERR_JWT_CLAIM_INVALID' ||
    code === 'ERR_JWT_EXPIRED' ||
    code === 'ERR_JWT_NOT_YET_VALID';
  return new JwtVerificationError(
    code,
    err.message,
    named && err.claim ? { claim: err.claim } : undefined,
  );
}
