import type { JwsAlg } from '../jws/algorithms.js';
import { verifySignature } from '../jws/compact.js';
import { checkClaims, type TokenClaims } from './claims.js';
import { decodeHeader, splitToken } from './compact.js';
import { IssuerDiscovery } from './discovery.js';
import { JwtVerificationError } from './errors.js';
import { ExecutionStatusCheck } from './introspection.js';
import { IssuerKeySet } from './key-set.js';
import { resolveOptions, type VerifierOptions } from './options.js';

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

/** Distinct headers remembered; a real issuer has a handful (one per published key). */
const MAX_CACHED_HEADERS = 64;

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
  const discovery = new IssuerDiscovery(http, resolved.issuer, resolved.requireRunning);
  const keys = new IssuerKeySet(
    { ...http, algorithms, jwksCooldownMs: resolved.jwksCooldownMs, now },
    discovery,
  );
  const status = resolved.requireRunning
    ? new ExecutionStatusCheck(
        { ...http, cacheTtlMs: resolved.introspectionCacheTtlMs, now },
        discovery,
      )
    : undefined;
  const rules = {
    issuer: resolved.issuer,
    audiences: resolved.audiences,
    clockTolerance: resolved.clockTolerance,
  };

  // Every token of a key carries the same header text: decode and check it once.
  const headers = new Map<string, VerifiedHeader>();
  const headerOf = (encoded: string): VerifiedHeader => {
    let header = headers.get(encoded);
    if (!header) {
      const decoded = decodeHeader(encoded);
      if (!decoded)
        throw new JwtVerificationError('ERR_JWT_MALFORMED', 'the header is not a JSON object');
      header = Object.freeze(checkHeader(decoded, algorithms));
      if (headers.size >= MAX_CACHED_HEADERS) headers.clear();
      headers.set(encoded, header);
    }
    return header;
  };

  return {
    issuer: resolved.issuer,
    async verify(token: string): Promise<VerifiedToken> {
      const jws = splitToken(token);
      if (!jws)
        throw new JwtVerificationError(
          'ERR_JWT_MALFORMED',
          'not a compact JWS with a JSON payload',
        );
      const header = headerOf(jws.encodedHeader);
      // Warm cache: no await at all; otherwise one, for the (deduplicated) JWKS fetch.
      const key = keys.current(header.kid) ?? (await keys.resolve(header.kid));
      if (!key.algs.has(header.alg)) {
        const why =
          key.jwkAlg && key.jwkAlg !== header.alg ? `is for ${key.jwkAlg}` : 'does not fit';
        throw new JwtVerificationError(
          'ERR_JWS_ALG_NOT_ALLOWED',
          `the key of this kid ${why} ${header.alg}`,
        );
      }
      if (!verifySignature(header.alg, key.key, jws.signingInput, jws.signature)) {
        throw new JwtVerificationError(
          'ERR_JWS_SIGNATURE_INVALID',
          'signature verification failed',
        );
      }
      const payload = checkClaims(jws.payload, rules, now());
      if (status) {
        await status.assertRunning(
          token,
          payload.jti ?? `sig:${token.slice(token.lastIndexOf('.') + 1)}`,
        );
      }
      return { payload, header };
    },
  };
}

function checkHeader(
  header: Record<string, unknown>,
  algorithms: ReadonlySet<JwsAlg>,
): VerifiedHeader {
  const { alg, kid, typ } = header;
  // Checked before any key is looked at: `none`, HS* and anything unlisted never get further.
  if (typeof alg !== 'string' || !algorithms.has(alg as JwsAlg)) {
    const named = typeof alg === 'string' ? ` ${JSON.stringify(alg.slice(0, 16))}` : '';
    throw new JwtVerificationError('ERR_JWS_ALG_NOT_ALLOWED', `alg${named} is not allowed`);
  }
  if (typeof kid !== 'string' || kid === '') {
    throw new JwtVerificationError('ERR_JWT_MALFORMED', 'the header has no kid');
  }
  // RFC 7515 §4.1.11: extensions we do not understand must make the token invalid.
  if (header.crit !== undefined) {
    throw new JwtVerificationError(
      'ERR_JWT_MALFORMED',
      'critical header extensions are not supported',
    );
  }
  if (typ !== undefined && (typeof typ !== 'string' || !isJwtType(typ))) {
    throw new JwtVerificationError('ERR_JWT_CLAIM_INVALID', 'header typ must be JWT', {
      claim: 'typ',
    });
  }
  return header as VerifiedHeader;
}

/** RFC 7519 §5.1: "JWT", compared as a media type (case-insensitive, optional application/). */
function isJwtType(typ: string): boolean {
  const lower = typ.toLowerCase();
  return lower === 'jwt' || lower === 'application/jwt';
}
