import { promisify } from 'node:util';
import { deflate } from 'node:zlib';
import { pastDeadline } from '../executions/execution.js';
import type { StatusListInfo, StatusListStore } from '../executions/store.js';
import { base64url } from '../jws/base64url.js';
import { encodeHeader, signCompact } from '../jws/compact.js';
import type { KeyRing } from '../keys/ring.js';
import { encodeStatusBits } from './status-bits.js';

const deflateAsync = promisify(deflate);

/** Media type of a Status List Token in JWT form (draft-ietf-oauth-status-list §8.2). */
export const STATUS_LIST_MEDIA_TYPE = 'application/statuslist+jwt';
/** The `typ` header of a Status List Token. */
export const STATUS_LIST_TYP = 'statuslist+jwt';

/**
 * A replica serves a built list for at most this long (or `ttl`, if shorter) before it reads the
 * store and signs again: a burst of verifiers costs one build per list per second, and an end
 * accepted by any replica is in every served list within this time.
 */
const REBUILD_MS = 1000;
/**
 * Lists kept built. An old list's token is a few hundred bytes (its entries all ended), and a
 * list evicted must be signed again when asked for: enough for every list of months of
 * registrations at the default size, so that asking for all of them in turn costs no signatures.
 */
const MAX_BUILT_LISTS = 4096;

export interface StatusListIssuerOptions {
  ring: KeyRing;
  store: StatusListStore;
  /** The issuer URL: lists live at `<issuer>/v1/status-lists/<n>`. */
  issuer: string;
  /** The `ttl` claim and Cache-Control max-age: how long verifiers may cache a list. */
  ttlMs: number;
  /** `exp - iat`: how long a verifier that cannot refresh may still rely on a list. */
  lifetimeMs: number;
  /** How long after it stopped taking entries a list may still be named by a valid token. */
  retireAfterMs: number;
  /**
   * How long after it stopped taking entries no entry of a list can be handed out any more
   * (a replica's block lives a minute; replicas' clocks differ by up to the clock skew).
   */
  settleAfterMs: number;
  now?: () => number;
}

/**
 * How long after a list stopped taking entries a valid token can still name it: an entry is
 * handed out up to a block's age after that, its execution runs up to `executions.max_duration`,
 * a token minted just before the deadline lives `tokens.max_lifetime` more, and verifiers' clocks
 * differ by up to `rotation.clock_skew`.
 */
export function statusListRetirementMs(limits: {
  blockAgeMs: number;
  maxDurationMs: number;
  maxTokenLifetimeMs: number;
  clockSkewMs: number;
}): number {
  return limits.blockAgeMs + limits.maxDurationMs + limits.maxTokenLifetimeMs + limits.clockSkewMs;
}

interface Built {
  token: string;
  builtAt: number;
  /** When `token` was signed (its `iat`, in ms), and by which key. */
  signedAt: number;
  kid: string;
  /** Every entry INVALID for good: no entry can be handed out any more, none is running. */
  settled: boolean;
}

/**
 * Builds and signs Status List Tokens (draft-ietf-oauth-status-list §5.1): one bit per
 * execution, 0 (VALID) while it runs, 1 (INVALID) once it ended or passed its deadline, read
 * from the store at build time and signed by the key ring's active key.
 */
export class StatusListIssuer {
  readonly ttlS: number;
  private readonly base: string;
  private readonly rebuildMs: number;
  private readonly now: () => number;
  private readonly built = new Map<number, Built>();
  private readonly building = new Map<number, Promise<string | undefined>>();
  /** The lists opened so far, read at most once a second like the lists (the table only grows). */
  private opened?: { lists: Promise<StatusListInfo[]>; readAt: number };

  constructor(private readonly options: StatusListIssuerOptions) {
    this.base = `${options.issuer.replace(/\/$/, '')}/v1/status-lists`;
    this.ttlS = Math.max(1, Math.floor(options.ttlMs / 1000));
    this.rebuildMs = Math.min(REBUILD_MS, options.ttlMs);
    this.now = options.now ?? Date.now;
  }

  /** The `uri` of a list, as tokens name it and as the Status List Token's `sub` repeats it. */
  uri(list: number): string {
    return `${this.base}/${list}`;
  }

  /** The aggregation endpoint (§9): where the list of lists is. */
  get aggregationUri(): string {
    return this.base;
  }

  /** The signed Status List Token of `list`, or undefined for a list never opened. */
  async token(list: number): Promise<string | undefined> {
    const cached = this.built.get(list);
    if (cached && this.now() - cached.builtAt < this.rebuildMs) return cached.token;
    let pending = this.building.get(list);
    if (!pending) {
      pending = this.build(list).finally(() => this.building.delete(list));
      this.building.set(list, pending);
    }
    return pending;
  }

  /**
   * URIs of the lists a valid token can still name (§9, Status List Aggregation): the newest,
   * and every older one that stopped taking entries less than the longest execution ago.
   */
  async aggregation(): Promise<string[]> {
    const now = this.now();
    const lists = await this.openedLists(now);
    const horizon = now - this.options.retireAfterMs;
    return lists
      .filter((_info, index) => {
        const next = lists[index + 1];
        return next === undefined || next.createdAt > horizon;
      })
      .map((info) => this.uri(info.list));
  }

  /** Every list opened so far, oldest first, read from the store at most once a second. */
  private openedLists(now: number): Promise<StatusListInfo[]> {
    if (!this.opened || now - this.opened.readAt >= this.rebuildMs) {
      const lists = this.options.store.listStatusLists();
      this.opened = { lists, readAt: now };
      // A failed read is not kept: the next request tries the store again.
      lists.catch(() => {
        if (this.opened?.lists === lists) this.opened = undefined;
      });
    }
    return this.opened.lists;
  }

  /**
   * True when every entry of `list` is INVALID for good: none of its executions is running, and
   * the list stopped taking entries long enough ago that no replica can hand one out any more.
   */
  private async settled(list: number, running: number, now: number): Promise<boolean> {
    if (running > 0) return false;
    const lists = await this.openedLists(now);
    const next = lists.find((info) => info.list > list);
    return next !== undefined && now - next.createdAt >= this.options.settleAfterMs;
  }

  private async build(list: number): Promise<string | undefined> {
    // The clock is read before the store: an end committed before `iat` is in this list.
    const now = this.now();
    const read = await this.options.store.readStatusList(list);
    if (!read) return undefined;
    const valid = read.running
      .filter((entry) => !pastDeadline(entry.deadline, now))
      .map((entry) => entry.idx);
    // A settled list (every old one) never changes again: its signed copy stays true and is
    // served again while half its lifetime is left. A signature per list per second would let
    // anyone who requests every list make the key backend (a KMS Sign each, under a quota that
    // minting shares) sign once per list per second. A list that can still change is signed
    // at every build, so a later `iat` always means later entries (verifiers keep the newest).
    // A rotation signs anew, so no list outlives its key in the JWKS.
    const settled = await this.settled(list, valid.length, now);
    const ring = this.options.ring;
    const key = ring.signingKey();
    const previous = this.built.get(list);
    if (
      settled &&
      previous?.settled &&
      previous.kid === key.kid &&
      now - previous.signedAt < this.options.lifetimeMs / 2
    ) {
      this.built.set(list, { ...previous, builtAt: now });
      return previous.token;
    }
    // Off the event loop: a large sparse list takes tens of milliseconds at level 9.
    const lst = await deflateAsync(encodeStatusBits(read.size, valid), { level: 9 });
    const iat = Math.floor(now / 1000);
    const payload = JSON.stringify({
      iss: this.options.issuer,
      sub: this.uri(list),
      iat,
      exp: iat + Math.floor(this.options.lifetimeMs / 1000),
      ttl: this.ttlS,
      status_list: { bits: 1, lst: base64url(lst) },
    });
    const header = encodeHeader({ alg: key.backendKey.alg, kid: key.kid, typ: STATUS_LIST_TYP });
    const token = await signCompact(header, payload, (input) => ring.sign(input, key));
    if (this.built.size >= MAX_BUILT_LISTS && !this.built.has(list)) {
      this.built.delete(this.built.keys().next().value!);
    }
    this.built.set(list, { token, builtAt: now, signedAt: iat * 1000, kid: key.kid, settled });
    return token;
  }
}
