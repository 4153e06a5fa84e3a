/**
 * Why a token was refused (or could not be checked). A closed union, so `switch (err.code)`
 * narrows and callers never have to match message text.
 *
 * @example
 * ```ts
 * function statusFor(code: VerificationErrorCode): number {
 *   return code === 'ERR_JWKS_FETCH_FAILED' || code === 'ERR_DISCOVERY_FAILED' ? 503 : 401;
 * }
 * ```
 */
export type VerificationErrorCode =
  /**
   * Not a compact JWS of three strict base64url segments (one spelling: no padding, no `+` or
   * `/`, unused bits zero) with JSON object header and payload; no `kid`; a `crit` or `b64` header.
   */
  | 'ERR_JWT_MALFORMED'
  /** `alg` outside the allowlist, different from the JWK's `alg`, or unfit for the key type. */
  | 'ERR_JWS_ALG_NOT_ALLOWED'
  /**
   * No usable key with the token's `kid` in the issuer's JWKS, even after a refetch (a key with
   * private or symmetric members, `use` other than `sig` or `key_ops` without `verify` is unusable).
   */
  | 'ERR_JWKS_NO_MATCHING_KEY'
  | 'ERR_JWS_SIGNATURE_INVALID'
  | 'ERR_JWT_EXPIRED'
  | 'ERR_JWT_NOT_YET_VALID'
  /** A claim (or the `typ` header) has the wrong value or type; see `claim`. */
  | 'ERR_JWT_CLAIM_INVALID'
  /**
   * The issuer reports the token inactive or its execution no longer running (introspection),
   * or the token's status list entry is not VALID (status list).
   */
  | 'ERR_EXECUTION_NOT_RUNNING'
  | 'ERR_DISCOVERY_FAILED'
  | 'ERR_JWKS_FETCH_FAILED'
  | 'ERR_INTROSPECTION_FAILED'
  /**
   * Discovery, the JWKS or introspection answered a redirect the verifier will not follow: to
   * another origin (host, port or scheme, https to http included), a method-changing one for
   * introspection, or too many. Nothing was fetched from, or sent to, the redirect's target
   * (unless a custom `fetch` ignored `redirect: 'manual'` and followed it on its own).
   */
  | 'ERR_REDIRECT_REFUSED'
  /** The token's status list could not be fetched (network, timeout, HTTP status, size). */
  | 'ERR_STATUS_LIST_FETCH_FAILED'
  /**
   * The status list fetched is unusable: signature, `typ`, `sub` other than the token's `uri`,
   * missing or past `exp`, malformed `status_list`, or no entry at the token's `idx`.
   */
  | 'ERR_STATUS_LIST_INVALID';

/**
 * The one error `verify` rejects with. Messages never contain the token; the underlying
 * network or parse error, if any, is kept as `cause`.
 *
 * @example
 * ```ts
 * try {
 *   await verifier.verify(token);
 * } catch (err) {
 *   if (err instanceof JwtVerificationError && err.code === 'ERR_JWT_EXPIRED') return reply(401);
 *   throw err;
 * }
 * ```
 */
export class JwtVerificationError extends Error {
  readonly code: VerificationErrorCode;
  /** For ERR_JWT_CLAIM_INVALID (and expiry checks): the claim or header that failed. */
  readonly claim?: string;

  constructor(
    code: VerificationErrorCode,
    message: string,
    options?: { cause?: unknown; claim?: string },
  ) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'JwtVerificationError';
    this.code = code;
    if (options?.claim !== undefined) this.claim = options.claim;
  }

  /**
   * Whether the fault lies with the issuer or the network rather than the token: worth a
   * retry later, and a 503 rather than a 401 for whoever presented the token.
   */
  get unavailable(): boolean {
    return (
      this.code === 'ERR_DISCOVERY_FAILED' ||
      this.code === 'ERR_JWKS_FETCH_FAILED' ||
      this.code === 'ERR_INTROSPECTION_FAILED' ||
      this.code === 'ERR_REDIRECT_REFUSED' ||
      this.code === 'ERR_STATUS_LIST_FETCH_FAILED' ||
      this.code === 'ERR_STATUS_LIST_INVALID'
    );
  }
}

/**
 * Narrows `err` to a {@link JwtVerificationError}, optionally of one code.
 *
 * @example
 * ```ts
 * const result = await verifier.verify(token).catch((err) => err);
 * if (isJwtVerificationError(result, 'ERR_EXECUTION_NOT_RUNNING')) console.log('execution ended');
 * ```
 */
export function isJwtVerificationError(
  err: unknown,
  code?: VerificationErrorCode,
): err is JwtVerificationError {
  return err instanceof JwtVerificationError && (code === undefined || err.code === code);
}
