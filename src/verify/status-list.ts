import { promisify } from 'node:util';
import { inflate } from 'node:zlib';
import type { JwsAlg } from '../jws/algorithms.js';
import { fromBase64url } from '../jws/base64url.js';
import {
  type CompactVerifier,
  createCompactVerifier,
  type ReadJws,
} from '../jws/compact-verifier.js';
import { JwsError } from '../jws/errors.js';
import { checkValidity } from '../jws/validity.js';
import { STATUS_VALID, statusAt } from '../tokens/status-bits.js';
import { JwtVerificationError } from './errors.js';
import { type RequestSettings, requestText } from './http.js';
import type { IssuerKeySet } from './key-set.js';

const inflateAsync = promisify(inflate);

/** Lists kept; a verifier sees the few lists of executions running now. Oldest fetched go first. */
const MAX_LISTS = 256;
/** Refresh bounds whatever `ttl` says: not more than once a second, at least once an hour. */
const MIN_TTL_S = 1;
const MAX_TTL_S = 3600;
/** Used when a list has no `ttl`. */
const DEFAULT_TTL_S = 60;
/** After a failed refresh, tokens use the list still valid (or fail fast) this long before the next try. */
const FAILURE_BACKOFF_MS = 5_000;
/** A list of 2^27 one-bit entries; anything that inflates past this is not a status list. */
const MAX_LIST_BYTES = 16 * 1024 * 1024;
/** The longest Status List Token read (the HTTP body is capped at 1 MiB as well). */
const MAX_LIST_TOKEN_LENGTH = 1024 * 1024;

export interface StatusListSettings extends RequestSettings {
  issuer: string;
  algorithms: ReadonlySet<JwsAlg>;
  /** Seconds of leeway for the list's `exp` and `iat`. */
  clockTolerance: number;
  now: () => number;
}

interface CachedList {
  bytes: Uint8Array;
  bits: number;
  /** The list's `iat` (seconds): a list issued before the copy in hand never replaces it. */
  issuedAt: number;
  /** When a fresh copy should be fetched: fetch time + ttl (draft §8.3 step 4.4). */
  refreshAt: number;
  /** The list's `exp`: past it, the list is never used, fresh or not. */
  expiresAt: number;
  failedAt?: number;
}

/**
 * `requireRunning: 'status-list'`: checks a token's entry in the issuer's Token Status List
 * (draft-ietf-oauth-status-list) from a cached copy, so no token costs a network call. Each
 * list is refetched once its `ttl` has passed (concurrent refreshes share one request); if the
 * issuer cannot be reached, the copy in hand serves until its `exp`, and after that every token
 * of the list fails with ERR_STATUS_LIST_FETCH_FAILED.
 */
export class StatusListCheck {
  private readonly lists = new Map<string, CachedList>();
  private readonly inflight = new Map<string, Promise<CachedList>>();
  /** The last failed fetch of a list with no usable copy, so an outage is not a request per token. */
  private readonly failures = new Map<string, { at: number; error: JwtVerificationError }>();
  private readonly origin: string;
  /** The JWS core's form, header and signature rules, with `typ` statuslist+jwt required. */
  private readonly jws: CompactVerifier;

  constructor(
    private readonly settings: StatusListSettings,
    private readonly keys: IssuerKeySet,
  ) {
    this.origin = new URL(settings.issuer).origin;
    this.jws = createCompactVerifier({
      algorithms: settings.algorithms,
      typ: 'statuslist+jwt',
      maxLength: MAX_LIST_TOKEN_LENGTH,
    });
  }

  /**
   * Resolves if the token's entry is VALID. Synchronous (returns undefined) when its list is
   * fresh in the cache; a promise when the list must be fetched first.
   */
  check(payload: Record<string, unknown>): Promise<void> | undefined {
    const { idx, uri } = reference(payload);
    const cached = this.lists.get(uri);
    // A cached list's uri passed the origin check when it was first met.
    if (!cached) this.checkOrigin(uri);
    const now = this.settings.now();
    if (cached && now < cached.expiresAt) {
      const backingOff =
        cached.failedAt !== undefined && now - cached.failedAt < FAILURE_BACKOFF_MS;
      if (now < cached.refreshAt || backingOff) return assertValid(cached, idx);
    }
    return this.refresh(uri, cached).then((list) => assertValid(list, idx));
  }

  /** Only the issuer vouches for its tokens' status: a list elsewhere could say anything. */
  private checkOrigin(uri: string): void {
    let origin: string | undefined;
    try {
      origin = new URL(uri).origin;
    } catch {
      invalidStatus('has a uri that is not an absolute URL');
    }
    if (origin !== this.origin) invalidStatus("has a uri outside the issuer's origin");
  }

  private async refresh(uri: string, previous: CachedList | undefined): Promise<CachedList> {
    const failure = this.failures.get(uri);
    if (failure && this.settings.now() - failure.at < FAILURE_BACKOFF_MS) {
      const { error } = failure;
      throw new JwtVerificationError(error.code, error.message, { cause: error });
    }
    let pending = this.inflight.get(uri);
    if (!pending) {
      pending = this.fetchList(uri).finally(() => this.inflight.delete(uri));
      this.inflight.set(uri, pending);
    }
    try {
      const list = newest(this.lists.get(uri), await pending, this.settings.now());
      this.failures.delete(uri);
      this.remember(uri, list);
      return list;
    } catch (err) {
      const now = this.settings.now();
      // The issuer is down or the list unusable: a copy still before its `exp` keeps serving.
      if (previous && now < previous.expiresAt) {
        previous.failedAt = now;
        return previous;
      }
      if (err instanceof JwtVerificationError) {
        if (this.failures.size >= MAX_LISTS) this.failures.clear();
        this.failures.set(uri, { at: now, error: err });
      }
      throw err;
    }
  }

  private remember(uri: string, list: CachedList): void {
    if (this.lists.get(uri) === list) return;
    this.lists.delete(uri);
    if (this.lists.size >= MAX_LISTS) this.lists.delete(this.lists.keys().next().value!);
    this.lists.set(uri, list);
  }

  private async fetchList(uri: string): Promise<CachedList> {
    const answer = await requestText(
      this.settings,
      uri,
      'ERR_STATUS_LIST_FETCH_FAILED',
      'application/statuslist+jwt',
    );
    const fetchedAt = this.settings.now();
    const invalid = (why: string, cause?: unknown): never => {
      throw new JwtVerificationError('ERR_STATUS_LIST_INVALID', `status list ${uri}: ${why}`, {
        cause,
      });
    };
    if (answer.contentType.split(';')[0]!.trim().toLowerCase() !== 'application/statuslist+jwt') {
      return invalid('not served as application/statuslist+jwt');
    }
    let jws: ReadJws;
    try {
      jws = this.jws.read(answer.text.trim());
    } catch (cause) {
      return invalid(describeJws(cause), cause);
    }
    // The issuer's own keys, from the same JWKS as its tokens.
    let key: Awaited<ReturnType<IssuerKeySet['resolve']>>;
    try {
      key = this.keys.current(jws.header.kid) ?? (await this.keys.resolve(jws.header.kid));
    } catch (cause) {
      if (cause instanceof JwtVerificationError && cause.unavailable) throw cause;
      return invalid('no key of the issuer has its kid', cause);
    }
    const claims = jws.payload;
    try {
      this.jws.check(jws, key.key, key.algs);
      // `exp` required: it bounds how long a copy serves while the issuer cannot be reached.
      checkValidity(claims, fetchedAt, this.settings.clockTolerance);
    } catch (cause) {
      return invalid(describeJws(cause), cause);
    }
    if (claims.sub !== uri) return invalid('sub is not the uri the token names');
    if (claims.iss !== undefined && claims.iss !== this.settings.issuer) {
      return invalid('iss is not the issuer');
    }
    if (
      typeof claims.iat !== 'number' ||
      claims.iat > fetchedAt / 1000 + this.settings.clockTolerance
    ) {
      return invalid('iat is missing or in the future');
    }
    if (claims.ttl !== undefined && (typeof claims.ttl !== 'number' || !(claims.ttl > 0))) {
      return invalid('ttl is not a positive number');
    }
    const ttlS = Math.min(MAX_TTL_S, Math.max(MIN_TTL_S, (claims.ttl as number) ?? DEFAULT_TTL_S));
    const list = claims.status_list as { bits?: unknown; lst?: unknown } | undefined;
    const bits = list?.bits;
    if (bits !== 1 && bits !== 2 && bits !== 4 && bits !== 8)
      return invalid('bits is not 1, 2, 4 or 8');
    if (typeof list?.lst !== 'string') return invalid('lst is missing');
    let bytes: Uint8Array;
    try {
      bytes = await inflateAsync(fromBase64url(list.lst), { maxOutputLength: MAX_LIST_BYTES });
    } catch (cause) {
      return invalid('lst is not base64url of a zlib stream', cause);
    }
    return {
      bytes,
      bits,
      issuedAt: claims.iat,
      refreshAt: fetchedAt + ttlS * 1000,
      expiresAt: (claims.exp as number) * 1000,
    };
  }
}

/**
 * The list to use after a fetch: the fetched one, unless the copy in hand was issued later and
 * is still before its `exp`. An older list (replayed by someone on the path, or a CDN's stale
 * copy) would otherwise undo an end the newer copy already shows; the newer copy serves for
 * the fetched list's ttl instead, as if the fetch had confirmed it.
 */
function newest(held: CachedList | undefined, fetched: CachedList, now: number): CachedList {
  if (!held || held.issuedAt <= fetched.issuedAt || now >= held.expiresAt) return fetched;
  const { failedAt: _, ...kept } = held;
  return { ...kept, refreshAt: fetched.refreshAt };
}

/** `status.status_list` of the token: a non-negative integer `idx` and a string `uri`. */
function reference(payload: Record<string, unknown>): { idx: number; uri: string } {
  const status = payload.status as { status_list?: { idx?: unknown; uri?: unknown } } | undefined;
  const entry = typeof status === 'object' && status !== null ? status.status_list : undefined;
  if (typeof entry !== 'object' || entry === null) {
    return invalidStatus('has no status_list, which requireRunning: "status-list" needs');
  }
  const { idx, uri } = entry;
  if (typeof idx !== 'number' || !Number.isSafeInteger(idx) || idx < 0) {
    return invalidStatus('has an idx that is not a non-negative integer');
  }
  if (typeof uri !== 'string') return invalidStatus('has no uri');
  return { idx, uri };
}

function invalidStatus(why: string): never {
  throw new JwtVerificationError('ERR_JWT_CLAIM_INVALID', `claim status ${why}`, {
    claim: 'status',
  });
}

function describeJws(err: unknown): string {
  return err instanceof JwsError ? err.message : 'unreadable';
}

function assertValid(list: CachedList, idx: number): undefined {
  const status = statusAt(list.bytes, idx, list.bits);
  if (status === undefined) {
    throw new JwtVerificationError(
      'ERR_STATUS_LIST_INVALID',
      "the status list has no entry at the token's idx",
    );
  }
  if (status !== STATUS_VALID) {
    throw new JwtVerificationError(
      'ERR_EXECUTION_NOT_RUNNING',
      'the status list marks the token invalid: its execution has ended',
    );
  }
  return undefined;
}
