import type { KeyStateRecord } from './states.js';

/*
 * The key lifecycle's decisions, pure: the one file where a key is chosen. Which versions the
 * JWKS publishes and which one signs (`chooseKeys`), how the stored states advance
 * (`planKeyStates`), and when a new version is due (`versionDue`). lifecycle.ts carries them out.
 */

/**
 * `keys.create`: which versions the issuer makes itself. `never`: none (the security team makes
 * every version); `first`: one when the backend holds no usable version (first start, or after
 * an emergency retire left none); `always`: that, and the next version of every rotation.
 */
export const KEY_CREATION = ['never', 'first', 'always'] as const;
export type KeyCreation = (typeof KEY_CREATION)[number];

/** What the plan needs to know of one backend version. */
export interface VersionView {
  kid: string;
  ref: string;
  enabled: boolean;
  createdAt: number;
}

export interface PlanTimes {
  now: number;
  /** How long a version is in the JWKS before it may sign. */
  prepublishMs: number;
  /** How long a retiring version stays in the JWKS: longest token lifetime plus clock skew. */
  retainMs: number;
}

export interface Plan {
  /** Records to write (new or changed), in order. */
  changed: KeyStateRecord[];
  /** Every record after the plan, by kid. */
  records: Map<string, KeyStateRecord>;
}

/**
 * One reconciliation step of the key lifecycle, pure: from the stored states, what the backend
 * holds now, and the time, to the next states. Repeating it changes nothing, so it is safe to
 * run after a crash at any point. pending → active → retiring → retired:
 * - a version disabled or gone in the backend stops signing and leaves the JWKS at once;
 * - a version not seen before enters `pending` (published, not signing);
 * - the newest pending version published for at least `prepublish` becomes active, and the
 *   previously active one starts `retiring`;
 * - with no active version at all (first start, active one disabled outside, emergency),
 *   the newest usable version activates at once: nothing older exists for verifiers to use;
 * - a retiring version is retired once every token it signed has expired (plus skew).
 */
export function planKeyStates(
  stored: Iterable<KeyStateRecord>,
  versions: VersionView[],
  times: PlanTimes,
): Plan {
  const { now } = times;
  const records = new Map<string, KeyStateRecord>(
    [...stored].map((record) => [record.kid, { ...record }]),
  );
  const byKid = new Map(versions.map((version) => [version.kid, version]));
  const changed = new Map<string, KeyStateRecord>();
  const put = (record: KeyStateRecord) => {
    const clean = dropUndefined(record);
    records.set(clean.kid, clean);
    changed.set(clean.kid, clean);
  };
  const createdAt = (record: KeyStateRecord) =>
    byKid.get(record.kid)?.createdAt ?? record.publishedAt;
  const newestFirst = (a: KeyStateRecord, b: KeyStateRecord) =>
    createdAt(b) - createdAt(a) || b.publishedAt - a.publishedAt;

  for (const record of records.values()) {
    if (record.state !== 'retired' && !byKid.get(record.kid)?.enabled) {
      put({
        ...record,
        state: 'retired',
        retiredAt: now,
        retiredBy: 'backend',
        ...(record.state === 'active' ? { retiringAt: now } : {}),
      });
    }
  }
  for (const version of versions) {
    const record = records.get(version.kid);
    // A version the backend lists as enabled again (re-enabled, or only missing from one listing)
    // starts over as pending: it is published a full lead time again before it may sign.
    // Versions retired on schedule or by an operator never come back.
    if (
      version.enabled &&
      (!record || (record.state === 'retired' && record.retiredBy === 'backend'))
    ) {
      put({ kid: version.kid, ref: version.ref, state: 'pending', publishedAt: now });
    }
  }

  const inState = (state: KeyStateRecord['state']) =>
    [...records.values()].filter((record) => record.state === state).sort(newestFirst);
  // Exactly one active version: should the store ever hold more (a lost lease, a hand edit),
  // the newest keeps signing and the others start retiring.
  for (const extra of inState('active').slice(1))
    put({ ...extra, state: 'retiring', retiringAt: now });
  const active = inState('active')[0];
  const ready = inState('pending').find((record) => now - record.publishedAt >= times.prepublishMs);
  let next: KeyStateRecord | undefined;
  if (!active) next = [...inState('pending'), ...inState('retiring')].sort(newestFirst)[0];
  else if (ready && createdAt(ready) > createdAt(active)) next = ready;
  if (next) {
    if (active) put({ ...active, state: 'retiring', retiringAt: now });
    put({
      ...next,
      state: 'active',
      activatedAt: now,
      retiringAt: undefined,
      retiredAt: undefined,
    });
    // Pending versions older than the new active one will never sign: they leave the JWKS.
    for (const older of inState('pending')) {
      if (createdAt(older) < createdAt(next))
        put({ ...older, state: 'retired', retiredAt: now, retiredBy: 'schedule' });
    }
  }

  for (const record of inState('retiring')) {
    if (now - (record.retiringAt ?? now) >= times.retainMs)
      put({ ...record, state: 'retired', retiredAt: now, retiredBy: 'schedule' });
  }
  return { changed: [...changed.values()], records };
}

/** When a pending version may start signing, and when a retiring one leaves the JWKS. */
export function scheduleOf(
  record: KeyStateRecord,
  times: Omit<PlanTimes, 'now'>,
): { activatesAt?: number; retiresAt?: number } {
  if (record.state === 'pending') return { activatesAt: record.publishedAt + times.prepublishMs };
  if (record.state === 'retiring') return { retiresAt: (record.retiringAt ?? 0) + times.retainMs };
  return {};
}

function dropUndefined(record: KeyStateRecord): KeyStateRecord {
  return Object.fromEntries(
    Object.entries(record).filter(([, value]) => value !== undefined),
  ) as unknown as KeyStateRecord;
}

/** A backend version as the choice needs it (a ring key). */
export interface Choosable {
  kid: string;
  backendKey: { enabled: boolean; createdAt: Date };
}

const PUBLISHED_STATES = new Set(['pending', 'active', 'retiring']);

/**
 * Which versions the JWKS publishes and which one signs, newest first. Without stored states
 * (a ring used on its own: tests, bench) every enabled version is published and the newest
 * signs. With them, a version the lifecycle has not recorded yet is published (early
 * publication is harmless) but never signs; the one recorded active signs.
 */
export function chooseKeys<K extends Choosable>(
  keys: Iterable<K>,
  states?: ReadonlyMap<string, KeyStateRecord>,
): { published: K[]; active?: K } {
  const published = [...keys]
    .filter(
      (key) =>
        key.backendKey.enabled &&
        (!states || PUBLISHED_STATES.has(states.get(key.kid)?.state ?? 'pending')),
    )
    .sort((a, b) => b.backendKey.createdAt.getTime() - a.backendKey.createdAt.getTime());
  const active = states
    ? published.find((key) => states.get(key.kid)?.state === 'active')
    : published[0];
  return { published, active };
}

/**
 * Whether a new version is due, from the stored states: `first` when nothing can sign or is
 * about to (no active, pending or retiring version), `rotation` when the active version will
 * have served `every` one lead time from now and no successor is pending.
 */
export function versionDue(
  states: Iterable<KeyStateRecord>,
  times: { now: number; everyMs?: number; prepublishMs: number },
): 'first' | 'rotation' | undefined {
  const records = [...states];
  const active = records.find((record) => record.state === 'active');
  if (!active) {
    const coming = records.some(
      (record) => record.state === 'pending' || record.state === 'retiring',
    );
    return coming ? undefined : 'first';
  }
  if (times.everyMs === undefined || records.some((record) => record.state === 'pending'))
    return undefined;
  const servedEnough =
    times.now >= (active.activatedAt ?? active.publishedAt) + times.everyMs - times.prepublishMs;
  return servedEnough ? 'rotation' : undefined;
}

/** Whether `create` lets the issuer make the version that is due. */
export function mayCreate(create: KeyCreation, due: 'first' | 'rotation' | undefined): boolean {
  if (!due || create === 'never') return false;
  return due === 'first' || create === 'always';
}
