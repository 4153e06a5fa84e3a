import { createPublicKey, type JsonWebKey, type KeyObject } from 'node:crypto';
import { type JwsAlg, keyFitsAlg } from '../jws/algorithms.js';
import type { IssuerDiscovery } from './discovery.js';
import { JwtVerificationError } from './errors.js';
import { type RequestSettings, requestJson } from './http.js';

/** One usable key of the issuer's JWKS, imported once and kept across refetches. */
export interface IssuerKey {
  kid: string;
  key: KeyObject;
  /** The allowlisted algs this key may verify: fit for its type, and equal to its JWK `alg`. */
  algs: ReadonlySet<JwsAlg>;
  /** The JWK members that define the key, to recognise it unchanged on the next fetch. */
  fingerprint: string;
}

/**
 * Bounds on the JWKS lifetime whatever Cache-Control says: at least 30 s, so an issuer
 * sending `no-store` is not asked on every token; at most a day, so a removed key is
 * dropped within a day even if the issuer promised more. Without Cache-Control: 10 minutes,
 * the issuer's own default.
 */
export const JWKS_MIN_AGE_S = 30;
export const JWKS_MAX_AGE_S = 86_400;
export const JWKS_DEFAULT_AGE_S = 600;
/** After a failed fetch, tokens fail fast for this long (capped by the cooldown) instead of
 * each one asking an issuer that is down. */
const FAILURE_BACKOFF_MS = 5_000;
/** A JWKS is a handful of keys; importing thousands would be a cheap CPU attack. */
const MAX_KEYS = 100;
/** JWK members of private (RFC 7518 §6.2.2, §6.3.2, RFC 8037 §2) and symmetric (§6.4.1) keys. */
const PRIVATE_MEMBERS = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'oth', 'k'] as const;

export interface KeySetSettings extends RequestSettings {
  algorithms: ReadonlySet<JwsAlg>;
  jwksCooldownMs: number;
  now: () => number;
}

/**
 * The issuer's published keys, cached for as long as the JWKS response allows. `current` is
 * the synchronous fast path; `resolve` fetches when the set is stale or the kid unknown.
 */
export class IssuerKeySet {
  private keys = new Map<string, IssuerKey>();
  private expiresAt = Number.NEGATIVE_INFINITY;
  private attemptedAt = Number.NEGATIVE_INFINITY;
  private failure?: { at: number; error: JwtVerificationError };
  private inflight?: Promise<void>;

  constructor(
    private readonly settings: KeySetSettings,
    private readonly discovery: IssuerDiscovery,
  ) {}

  /** The key for `kid` if the cached set is still fresh; undefined means "ask `resolve`". */
  current(kid: string): IssuerKey | undefined {
    return this.settings.now() < this.expiresAt ? this.keys.get(kid) : undefined;
  }

  /** The key for `kid`, refetching the JWKS when stale, or once per cooldown when the kid is unknown. */
  async resolve(kid: string): Promise<IssuerKey> {
    const now = this.settings.now();
    if (this.inflight) {
      // A fetch is under way (perhaps for this very kid): its result is what we need.
      await this.inflight;
    } else if (now >= this.expiresAt) {
      await this.reload();
    } else if (!this.keys.has(kid) && now - this.attemptedAt >= this.settings.jwksCooldownMs) {
      await this.reload();
    }
    const key = this.keys.get(kid);
    if (!key) {
      throw new JwtVerificationError(
        'ERR_JWKS_NO_MATCHING_KEY',
        'no key in the JWKS has the kid of the token',
      );
    }
    return key;
  }

  /** Concurrent callers share one fetch. */
  private reload(): Promise<void> {
    const now = this.settings.now();
    const backoff = Math.min(FAILURE_BACKOFF_MS, this.settings.jwksCooldownMs);
    if (this.failure && now - this.failure.at < backoff) {
      const { error } = this.failure;
      return Promise.reject(new JwtVerificationError(error.code, error.message, { cause: error }));
    }
    this.inflight ??= this.fetchKeys().finally(() => {
      this.inflight = undefined;
    });
    return this.inflight;
  }

  private async fetchKeys(): Promise<void> {
    this.attemptedAt = this.settings.now();
    try {
      const { jwksUri } = await this.discovery.metadata();
      const answer = await requestJson(this.settings, jwksUri, 'ERR_JWKS_FETCH_FAILED');
      this.keys = this.importKeys(answer.body);
      const age = Math.min(
        JWKS_MAX_AGE_S,
        Math.max(JWKS_MIN_AGE_S, answer.maxAge ?? JWKS_DEFAULT_AGE_S),
      );
      this.expiresAt = this.settings.now() + age * 1000;
      this.failure = undefined;
    } catch (err) {
      const error =
        err instanceof JwtVerificationError
          ? err
          : new JwtVerificationError('ERR_JWKS_FETCH_FAILED', 'JWKS fetch failed', { cause: err });
      this.failure = { at: this.settings.now(), error };
      // The issuer may have moved its JWKS: discover again on the next attempt.
      this.discovery.forget();
      throw error;
    }
  }

  private importKeys(body: unknown): Map<string, IssuerKey> {
    const list = (body as { keys?: unknown } | null)?.keys;
    if (!Array.isArray(list)) {
      throw new JwtVerificationError('ERR_JWKS_FETCH_FAILED', 'the JWKS has no keys array');
    }
    const keys = new Map<string, IssuerKey>();
    for (const jwk of list.slice(0, MAX_KEYS)) {
      const key = this.importKey(jwk);
      // RFC 7517 §4.5: kids should be unique; on a repeat the first one stands.
      if (key && !keys.has(key.kid)) keys.set(key.kid, key);
    }
    return keys;
  }

  private importKey(jwk: unknown): IssuerKey | undefined {
    if (typeof jwk !== 'object' || jwk === null) return undefined;
    const { kid, kty, crv, x, y, n, e, alg, use, key_ops: ops } = jwk as Record<string, unknown>;
    if (typeof kid !== 'string' || kid === '') return undefined;
    // A JWK with private or symmetric members has leaked (OIDC Discovery §3: the JWK Set MUST
    // NOT hold them): anyone who read the JWKS can sign with it, so it verifies nothing.
    if (PRIVATE_MEMBERS.some((name) => Object.hasOwn(jwk, name))) return undefined;
    if (use !== undefined && use !== 'sig') return undefined;
    // RFC 7517 §4.3: key_ops is an array; anything else is a JWK we do not understand.
    if (ops !== undefined && (!Array.isArray(ops) || !ops.includes('verify'))) return undefined;
    if (kty !== 'EC' && kty !== 'RSA' && kty !== 'OKP') return undefined;
    const fingerprint = JSON.stringify([kty, crv, x, y, n, e, alg]);
    const known = this.keys.get(kid);
    if (known?.fingerprint === fingerprint) return known;
    let key: KeyObject;
    try {
      // Public members only: whatever else the JWK carries never reaches the key object.
      const members = Object.fromEntries(
        Object.entries({ kty, crv, x, y, n, e }).filter(([, value]) => value !== undefined),
      ) as JsonWebKey;
      key = createPublicKey({ key: members, format: 'jwk' });
    } catch {
      return undefined;
    }
    const algs = new Set<JwsAlg>();
    for (const candidate of this.settings.algorithms) {
      if ((alg === undefined || alg === candidate) && keyFitsAlg(key, candidate)) {
        algs.add(candidate);
      }
    }
    return { kid, key, algs, fingerprint };
  }
}
