import { VERIFIER_CLOCK_TOLERANCE_S } from '../config/times.js';
import { isJwsAlg, type JwsAlg } from '../jws/algorithms.js';

/**
 * Options of {@link createVerifier}. Durations are in seconds; `now` returns milliseconds.
 *
 * @example
 * ```ts
 * const options: VerifierOptions = {
 *   issuer: 'https://wfid.example.com',
 *   audience: ['https://deploy.example.com', 'sts.amazonaws.com'],
 *   algorithms: ['ES256'],
 *   clockTolerance: 10,
 * };
 * ```
 */
export interface VerifierOptions {
  /** The issuer URL, exactly as in the tokens' `iss` and in the discovery document. */
  issuer: string;
  /** The audience(s) this relying party answers to; a token must name at least one. */
  audience: string | readonly string[];
  /**
   * Also refuse tokens of finished executions. `true`: ask the issuer's introspection endpoint
   * (a request per token, answers cached `introspectionCacheTtl`). `'status-list'`: check the
   * token's entry in the issuer's Token Status List (draft-ietf-oauth-status-list), fetched once
   * per list and `ttl`, so no token costs a request; the token must carry `status.status_list`.
   * Both fail closed. Default false.
   */
  requireRunning?: boolean | 'status-list';
  /** Accepted `alg` values. Default ES256, ES384, RS256, PS256, EdDSA. `none` and HS* never. */
  algorithms?: readonly JwsAlg[];
  /** Leeway for exp, nbf and iat, in seconds. Default 5. */
  clockTolerance?: number;
  /**
   * The fetch to use (for proxies or custom agents). Default: the global fetch. It is called
   * with `redirect: 'manual'`: the verifier follows redirects itself, within the same origin
   * only, and refuses (ERR_REDIRECT_REFUSED) any answer that came from another origin. It
   * must honour `redirect: 'manual'`: a fetch that follows redirects on its own has already
   * sent the request (for introspection, the token) to the other origin when the verifier
   * sees the answer, and refusing the answer cannot take that back.
   */
  fetch?: typeof fetch;
  /**
   * Minimum seconds between JWKS refetches triggered by an unknown `kid`, so a flood of
   * tokens with made-up kids cannot turn into a flood of requests to the issuer. Default 30.
   */
  jwksCooldown?: number;
  /** Seconds an introspection answer is reused for the same `jti`. Default 5; 0 disables. */
  introspectionCacheTtl?: number;
  /** Timeout of each request to the issuer, in seconds. Default 5. */
  timeout?: number;
  /** Clock in milliseconds since the epoch, for tests. Default Date.now. */
  now?: () => number;
}

export interface ResolvedOptions {
  issuer: string;
  audiences: ReadonlySet<string>;
  requireRunning: false | 'introspection' | 'status-list';
  algorithms: ReadonlySet<JwsAlg>;
  clockTolerance: number;
  fetch: typeof fetch;
  jwksCooldownMs: number;
  introspectionCacheTtlMs: number;
  timeoutMs: number;
  now: () => number;
}

const DEFAULT_ALGORITHMS: readonly JwsAlg[] = ['ES256', 'ES384', 'RS256', 'PS256', 'EdDSA'];

/** Validates options up front, naming the bad one: a verifier misconfigured is a silent hole. */
export function resolveOptions(options: VerifierOptions): ResolvedOptions {
  if (typeof options !== 'object' || options === null) {
    throw new TypeError('createVerifier: options are required');
  }
  return {
    issuer: checkIssuer(options.issuer),
    audiences: checkAudience(options.audience),
    requireRunning: checkRequireRunning(options.requireRunning),
    algorithms: checkAlgorithms(options.algorithms ?? DEFAULT_ALGORITHMS),
    clockTolerance: seconds(
      'clockTolerance',
      options.clockTolerance,
      VERIFIER_CLOCK_TOLERANCE_S,
      300,
    ),
    fetch: checkFunction('fetch', options.fetch ?? globalThis.fetch) as typeof fetch,
    jwksCooldownMs: seconds('jwksCooldown', options.jwksCooldown, 30, 86_400) * 1000,
    introspectionCacheTtlMs:
      seconds('introspectionCacheTtl', options.introspectionCacheTtl, 5, 300) * 1000,
    timeoutMs: seconds('timeout', options.timeout, 5, 300) * 1000,
    now: checkFunction('now', options.now ?? Date.now) as () => number,
  };
}

function checkRequireRunning(value: unknown): ResolvedOptions['requireRunning'] {
  if (value === undefined || value === false) return false;
  if (value === true) return 'introspection';
  if (value === 'status-list') return 'status-list';
  throw new TypeError('createVerifier: requireRunning must be true, false or "status-list"');
}

function checkIssuer(issuer: unknown): string {
  let url: URL;
  try {
    url = new URL(String(issuer));
  } catch {
    throw new TypeError('createVerifier: issuer must be an absolute URL');
  }
  if (typeof issuer !== 'string' || (url.protocol !== 'https:' && url.protocol !== 'http:')) {
    throw new TypeError('createVerifier: issuer must be an http(s) URL string');
  }
  if (url.search || url.hash) {
    throw new TypeError('createVerifier: issuer must not have a query or fragment');
  }
  return issuer;
}

function checkAudience(audience: unknown): ReadonlySet<string> {
  const list = typeof audience === 'string' ? [audience] : audience;
  if (
    !Array.isArray(list) ||
    list.length === 0 ||
    !list.every((item) => typeof item === 'string' && item.length > 0)
  ) {
    throw new TypeError('createVerifier: audience must be a non-empty string or array of them');
  }
  return new Set(list);
}

function checkAlgorithms(algorithms: readonly unknown[]): ReadonlySet<JwsAlg> {
  if (!Array.isArray(algorithms) || algorithms.length === 0) {
    throw new TypeError('createVerifier: algorithms must be a non-empty array');
  }
  for (const alg of algorithms) {
    if (!isJwsAlg(alg)) {
      throw new TypeError(`createVerifier: algorithm ${JSON.stringify(alg)} is not supported`);
    }
  }
  return new Set(algorithms as JwsAlg[]);
}

function seconds(name: string, value: unknown, fallback: number, max: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0 || value > max) {
    throw new TypeError(`createVerifier: ${name} must be a number of seconds from 0 to ${max}`);
  }
  return value;
}

function checkFunction(name: string, value: unknown): unknown {
  if (typeof value !== 'function')
    throw new TypeError(`createVerifier: ${name} must be a function`);
  return value;
}
