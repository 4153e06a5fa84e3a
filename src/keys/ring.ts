import { createHash, randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import { describeError, WfidError } from '../errors.js';
import { encodeHeader, verifySignature } from '../jws/compact.js';
import { type PublicJwk, toPublicJwk } from '../jws/jwk.js';
import type { Metrics } from '../metrics.js';
import type { BackendKey, KeyBackend } from './backend.js';
import { chooseKeys } from './plan.js';
import type { KeyStateRecord } from './states.js';

/** A backend key version as the ring sees it: with its kid, JWK and pre-encoded JWS header. */
export interface RingKey {
  kid: string;
  backendKey: BackendKey;
  jwk: PublicJwk;
  /** base64url of `{"alg","kid","typ":"JWT"}`: fixed per key, so encoded once. */
  encodedHeader: string;
  /** Metric series of this key's backend and alg, bound once (label lookups cost on the hot path). */
  signSeconds?: { observe(seconds: number): void };
  tokensMinted?: { inc(): void };
}

export interface Signature {
  key: RingKey;
  signature: Uint8Array;
}

export interface KeyRingOptions {
  logger: Logger;
  metrics?: Metrics;
}

/**
 * The issuer's view of its signing keys: lists every version the backend holds, names each by
 * its RFC 7638 thumbprint, publishes the JWKS, signs, and checks every signature against the
 * published public key before a token leaves. It decides nothing itself: which versions are
 * published and which one signs follow the key states the lifecycle shows it (`show`), through
 * `chooseKeys` (plan.ts); a ring used on its own signs with the newest enabled version.
 */
export class KeyRing {
  readonly backend: KeyBackend;
  private readonly logger: Logger;
  private readonly metrics?: Metrics;
  /** The states the lifecycle showed last; undefined for a ring used on its own. */
  private states?: ReadonlyMap<string, KeyStateRecord>;
  private all = new Map<string, RingKey>();
  private published: RingKey[] = [];
  private active?: RingKey;
  private jwksCache?: { body: string; etag: string };
  /** Kids of local keys whose key pair was proven once (see KeyBackend.signsLocally). */
  private readonly proven = new Set<string>();
  private lastError?: Error;

  constructor(backend: KeyBackend, options: KeyRingOptions) {
    this.backend = backend;
    this.logger = options.logger;
    this.metrics = options.metrics;
  }

  /**
   * Re-lists the backend and chooses again. On a backend fault the previous view is
   * kept (tokens keep flowing from a key already published) and the fault is reported by
   * `health()`.
   */
  async refresh(): Promise<void> {
    let listed: BackendKey[];
    try {
      listed = await this.backend.listKeys();
    } catch (err) {
      this.lastError = err as Error;
      this.logger.warn(
        { err: describeError(err), backend: this.backend.kind },
        'listing keys failed',
      );
      throw err;
    }
    const next = new Map<string, RingKey>();
    for (const backendKey of listed) {
      const jwk = toPublicJwk(backendKey.publicKey, backendKey.alg);
      const known = this.all.get(jwk.kid);
      next.set(jwk.kid, {
        kid: jwk.kid,
        backendKey,
        jwk,
        encodedHeader:
          known?.encodedHeader ?? encodeHeader({ alg: backendKey.alg, kid: jwk.kid, typ: 'JWT' }),
        ...this.boundMetrics(backendKey.alg),
      });
    }
    if (this.backend.signsLocally) {
      for (const key of next.values()) if (key.backendKey.enabled) await this.proveLocalKey(key);
    }
    this.all = next;
    this.choose();
    this.lastError = undefined;
  }

  /** Follows the key states as the lifecycle read or wrote them, without listing the backend. */
  show(states: ReadonlyMap<string, KeyStateRecord>): void {
    this.states = states;
    this.choose();
  }

  private choose(): void {
    const decision = chooseKeys(this.all.values(), this.states);
    const changed =
      decision.active?.kid !== this.active?.kid ||
      decision.published.map((key) => key.kid).join() !==
        this.published.map((key) => key.kid).join();
    this.published = decision.published;
    this.active = decision.active;
    if (changed) this.jwksCache = undefined;
  }

  private boundMetrics(alg: string): Pick<RingKey, 'signSeconds' | 'tokensMinted'> {
    if (!this.metrics) return {};
    const labels = { backend: this.backend.kind, alg };
    return {
      signSeconds: this.metrics.signSeconds.labels(labels),
      tokensMinted: this.metrics.tokensMinted.labels(labels),
    };
  }

  /** The key that signs now. */
  signingKey(): RingKey {
    if (!this.active) {
      throw new WfidError(
        'ERR_NO_SIGNING_KEY',
        `no usable signing key in the ${this.backend.kind} backend`,
        {
          retryAfter: 5,
        },
      );
    }
    return this.active;
  }

  async sign(signingInput: Uint8Array, key: RingKey = this.signingKey()): Promise<Uint8Array> {
    const started = performance.now();
    const signature = await this.backend.sign(key.backendKey, signingInput);
    key.signSeconds?.observe((performance.now() - started) / 1000);
    if (
      !this.backend.signsLocally &&
      !verifySignature(key.backendKey.alg, key.backendKey.publicKey, signingInput, signature)
    ) {
      // A wrong key version, a DER/raw mix-up or a tampering proxy: never let such a token out.
      this.logger.error(
        { kid: key.kid, ref: key.backendKey.ref, backend: this.backend.kind },
        'backend signature does not match the published key',
      );
      throw new WfidError(
        'ERR_SIGNATURE_MISMATCH',
        `the ${this.backend.kind} backend returned a signature that does not verify against key ${key.kid}`,
        { retryAfter: 5 },
      );
    }
    return signature;
  }

  /** A published key by kid (for introspection and local verification). */
  publishedKey(kid: string): RingKey | undefined {
    return this.published.find((key) => key.kid === kid);
  }

  publishedKeys(): readonly RingKey[] {
    return this.published;
  }

  /** Every version the backend holds, published or not. */
  allKeys(): readonly RingKey[] {
    return [...this.all.values()];
  }

  /** The JWKS document, serialised once per change, with a strong ETag. */
  jwks(): { body: string; etag: string } {
    if (!this.jwksCache) {
      const body = JSON.stringify({ keys: this.published.map((key) => key.jwk) });
      const etag = `"${createHash('sha256').update(body).digest('base64url').slice(0, 27)}"`;
      this.jwksCache = { body, etag };
    }
    return this.jwksCache;
  }

  health(): { ready: boolean; reason?: string } {
    if (!this.active) return { ready: false, reason: 'no signing key' };
    if (this.lastError)
      return { ready: false, reason: `key backend: ${describeError(this.lastError)}` };
    return { ready: true };
  }

  async close(): Promise<void> {
    await this.backend.close?.();
  }

  private async proveLocalKey(key: RingKey): Promise<void> {
    if (this.proven.has(key.kid)) return;
    const probe = randomBytes(32);
    const signature = await this.backend.sign(key.backendKey, probe);
    if (!verifySignature(key.backendKey.alg, key.backendKey.publicKey, probe, signature)) {
      throw new WfidError(
        'ERR_SIGNATURE_MISMATCH',
        `key ${key.backendKey.ref} does not sign for its own public key`,
      );
    }
    this.proven.add(key.kid);
  }
}
