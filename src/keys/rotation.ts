import type { Logger } from 'pino';
import { describeError } from '../errors.js';
import type { KeyStateRecord, KeyStateStore } from '../executions/store.js';
import type { KeyBackend } from './backend.js';
import type { KeyDecision, KeyPolicy } from './policy.js';
import type { KeyRing, RingKey } from './ring.js';
import { type PlanTimes, planKeyStates } from './rotation-plan.js';

const LEASE = 'wfid:key-rotation';
const PUBLISHED_STATES = new Set(['pending', 'active', 'retiring']);

export interface RotationOptions {
  store: KeyStateStore;
  backend: KeyBackend;
  times: Omit<PlanTimes, 'now'>;
  /** Disable retired versions in the backend (never destroys them). */
  disableRetired: boolean;
  /** This replica's name in the lease. */
  holder: string;
  leaseMs: number;
  logger: Logger;
  now?: () => number;
}

/**
 * Key states persisted in the store and advanced by `planKeyStates`. Every replica reads the
 * states; the one holding the rotation lease writes the transitions, so each step is taken
 * exactly once however many replicas run.
 */
export class RotationPolicy implements KeyPolicy {
  /** The states as of the last decision, by kid. */
  records = new Map<string, KeyStateRecord>();
  /** Whether this replica held the lease at the last decision. */
  leader = false;
  private readonly now: () => number;

  constructor(private readonly options: RotationOptions) {
    this.now = options.now ?? Date.now;
  }

  async decide(keys: RingKey[]): Promise<KeyDecision> {
    const { store, logger } = this.options;
    const stored = await store.listKeyStates();
    this.leader = await store.acquireLease(LEASE, this.options.holder, this.options.leaseMs);
    if (this.leader) {
      const versions = keys.map((key) => ({
        kid: key.kid,
        ref: key.backendKey.ref,
        enabled: key.backendKey.enabled,
        createdAt: key.backendKey.createdAt.getTime(),
      }));
      const plan = planKeyStates(stored, versions, { ...this.options.times, now: this.now() });
      for (const record of plan.changed) {
        await store.putKeyState(record);
        logger.info(
          { kid: record.kid, ref: record.ref, state: record.state },
          `key ${record.state}`,
        );
      }
      this.records = plan.records;
      await this.disableRetired(keys, plan.changed);
    } else {
      this.records = new Map(stored.map((record) => [record.kid, record]));
    }
    // A version the leader has not recorded yet is published (early publication is harmless)
    // but never signs.
    const published = keys
      .filter(
        (key) =>
          key.backendKey.enabled &&
          PUBLISHED_STATES.has(this.records.get(key.kid)?.state ?? 'pending'),
      )
      .sort((a, b) => b.backendKey.createdAt.getTime() - a.backendKey.createdAt.getTime());
    const active = published.find((key) => this.records.get(key.kid)?.state === 'active');
    return { published, active };
  }

  /**
   * Takes (or renews) the lease and re-reads the stored states, for a step that must be taken
   * once: undefined when another replica holds the lease.
   */
  async underLease(): Promise<KeyStateRecord[] | undefined> {
    const { store, holder, leaseMs } = this.options;
    this.leader = await store.acquireLease(LEASE, holder, leaseMs);
    return this.leader ? await store.listKeyStates() : undefined;
  }

  /** Gives the lease up (on shutdown, or after a CLI command) so another replica takes over at once. */
  async release(): Promise<void> {
    if (this.leader) await this.options.store.releaseLease(LEASE, this.options.holder);
    this.leader = false;
  }

  private async disableRetired(keys: RingKey[], changed: KeyStateRecord[]): Promise<void> {
    const { backend, disableRetired, logger } = this.options;
    if (!disableRetired || !backend.disableKey) return;
    for (const record of changed) {
      const key = keys.find((item) => item.kid === record.kid);
      if (record.state !== 'retired' || !key?.backendKey.enabled) continue;
      try {
        await backend.disableKey(key.backendKey);
        logger.info(
          { kid: key.kid, ref: key.backendKey.ref },
          'disabled retired key version in the backend',
        );
      } catch (err) {
        logger.warn(
          { kid: key.kid, err: describeError(err) },
          'could not disable a retired key version',
        );
      }
    }
  }
}

export interface RotatorOptions {
  ring: KeyRing;
  policy: RotationPolicy;
  /** Rotation period; undefined = versions are only made by hand or outside the issuer. */
  everyMs?: number;
  prepublishMs: number;
  logger: Logger;
  now?: () => number;
}

/**
 * The rotation scheduler: on every tick it refreshes the ring (which advances the states) and,
 * when the next version is due `prepublish` before the active one has served `every`, prepares
 * it in the backend so it is published a full lead time before it signs.
 */
export class Rotator {
  private readonly now: () => number;
  /** This replica's steps, one at a time: a tick and a follow never decide side by side. */
  private queue: Promise<unknown> = Promise.resolve();

  constructor(private readonly options: RotatorOptions) {
    this.now = options.now ?? Date.now;
  }

  /** Lists the backend again and takes any due step. */
  tick(): Promise<void> {
    return this.serially(async () => {
      await this.options.ring.refresh();
      await this.prepareIfDue();
    });
  }

  /** Follows key states changed in the store since the last tick, without listing the backend. */
  follow(): Promise<void> {
    return this.serially(async () => {
      await this.options.ring.reconsider();
      await this.prepareIfDue();
    });
  }

  private serially(step: () => Promise<void>): Promise<void> {
    const run = this.queue.then(step, step);
    this.queue = run.catch(() => undefined);
    return run;
  }

  /**
   * Creating a version is the one step that cannot be repeated harmlessly (each is a key, a
   * billed one in KMS), so it is decided again under the lease from the states as stored now,
   * not from this replica's last view: another replica may have made the version meanwhile.
   */
  private async prepareIfDue(): Promise<void> {
    const { ring, policy, logger } = this.options;
    if (!policy.leader || !ring.backend.createKey || !this.nextVersionDue(policy.records.values()))
      return;
    const stored = await policy.underLease();
    if (!stored || !this.nextVersionDue(stored)) return;
    const created = await ring.backend.createKey();
    logger.info({ ref: created.ref, alg: created.alg }, 'prepared the next key version');
    // Records the new version (pending) before this replica's next step can look at the store.
    await ring.refresh();
  }

  private nextVersionDue(states: Iterable<KeyStateRecord>): boolean {
    const records = [...states];
    const active = records.find((record) => record.state === 'active');
    if (!active)
      return !records.some((record) => record.state === 'pending' || record.state === 'retiring');
    const { everyMs, prepublishMs } = this.options;
    if (everyMs === undefined || records.some((record) => record.state === 'pending')) return false;
    return this.now() >= (active.activatedAt ?? active.publishedAt) + everyMs - prepublishMs;
  }
}
