import type { Logger } from 'pino';
import { describeError, WfidError } from '../errors.js';
import type { BackendKey } from './backend.js';
import { type KeyCreation, mayCreate, type PlanTimes, planKeyStates, versionDue } from './plan.js';
import type { KeyRing } from './ring.js';
import type { KeyStateRecord, KeyStateStore } from './states.js';

const LEASE = 'wfid:key-rotation';

export interface KeyLifecycleOptions {
  /** The view this lifecycle keeps up to date; its backend is the one keys are made in. */
  ring: KeyRing;
  store: KeyStateStore;
  times: Omit<PlanTimes, 'now'>;
  /** Rotation period; undefined = versions are only made by hand or outside the issuer. */
  everyMs?: number;
  /** `keys.create`: which versions this lifecycle makes on its own (plan.ts). */
  create: KeyCreation;
  /** Disable retired versions in the backend (never destroys them). */
  disableRetired: boolean;
  /** This replica's name in the lease. */
  holder: string;
  leaseMs: number;
  logger: Logger;
  now?: () => number;
}

/**
 * The life of every key version, in one place: pending → active → retiring → retired, as
 * decided by plan.ts and carried out here. Every replica reads the states; the one holding the
 * rotation lease writes the transitions, makes new versions (the first one included: backends
 * never make keys on their own) and disables retired ones, so each step is taken once however
 * many replicas run. Steps of one replica run one at a time.
 */
export class KeyLifecycle {
  /** The states as of the last step, by kid. */
  records = new Map<string, KeyStateRecord>();
  /** Whether this replica held the lease at the last step. */
  leader = false;
  private readonly now: () => number;
  private queue: Promise<unknown> = Promise.resolve();

  constructor(private readonly options: KeyLifecycleOptions) {
    this.now = options.now ?? Date.now;
  }

  /**
   * The first step at start-up. Refuses to start when the backend holds no usable version and
   * none may be made here: the issuer could never sign.
   */
  async start(): Promise<void> {
    await this.tick();
    const { ring, create } = this.options;
    if (ring.allKeys().some((key) => key.backendKey.enabled)) return;
    if (create === 'never' || !ring.backend.createKey) {
      throw new WfidError(
        'ERR_CONFIG',
        create === 'never'
          ? `keys: the ${ring.backend.kind} backend holds no usable key version, and keys.create is never (the security team makes versions)`
          : `keys: the ${ring.backend.kind} backend holds no usable key version and cannot make one here; the security team makes versions`,
      );
    }
  }

  /** Lists the backend again and takes any due step. */
  tick(): Promise<void> {
    return this.serially(() => this.step(true));
  }

  /** Follows key states changed in the store since the last tick, without listing the backend. */
  follow(): Promise<void> {
    return this.serially(() => this.step(false));
  }

  /**
   * Makes a version now (`wfid keys rotate`): an operator's explicit request, whatever
   * `keys.create` lets the lifecycle do on its own. Recorded at once if this replica holds the
   * lease; otherwise the leader records it when it next lists the backend.
   */
  createVersion(): Promise<BackendKey> {
    return this.serially(async () => {
      const { ring, logger } = this.options;
      if (!ring.backend.createKey) {
        throw new WfidError(
          'ERR_CONFIG',
          `the ${ring.backend.kind} backend does not create keys here; the security team adds versions`,
        );
      }
      const created = await ring.backend.createKey();
      logger.info({ ref: created.ref, alg: created.alg }, 'created a key version on request');
      await this.step(true);
      return created;
    });
  }

  /** Gives the lease up (on shutdown, or after a CLI command) so another replica takes over at once. */
  release(): Promise<void> {
    return this.serially(async () => {
      if (this.leader) await this.options.store.releaseLease(LEASE, this.options.holder);
      this.leader = false;
    });
  }

  private serially<T>(step: () => Promise<T>): Promise<T> {
    const run = this.queue.then(step, step);
    this.queue = run.catch(() => undefined);
    return run;
  }

  /**
   * One step. The lease is taken before the states are read, so a leader always plans from
   * what the previous leader wrote; a new version is made only by the leader, from those
   * states, and recorded (pending) before the lease can pass on: each version is a key, a
   * billed one in KMS, and must be made exactly once.
   */
  private async step(listBackend: boolean): Promise<void> {
    const { ring, store, holder, leaseMs, create, logger } = this.options;
    if (listBackend) await ring.refresh();
    this.leader = await store.acquireLease(LEASE, holder, leaseMs);
    if (!this.leader) {
      this.records = new Map((await store.listKeyStates()).map((record) => [record.kid, record]));
    } else {
      await this.advance();
      const due = versionDue(this.records.values(), {
        now: this.now(),
        everyMs: this.options.everyMs,
        prepublishMs: this.options.times.prepublishMs,
      });
      if (ring.backend.createKey && mayCreate(create, due)) {
        const created = await ring.backend.createKey();
        logger.info(
          { ref: created.ref, alg: created.alg },
          due === 'first'
            ? 'created a key version: none was usable'
            : 'prepared the next key version',
        );
        await ring.refresh();
        await this.advance();
      }
    }
    ring.show(this.records);
  }

  /** Reads the stored states and writes the plan's transitions (the leader only). */
  private async advance(): Promise<void> {
    const { ring, store, times, logger } = this.options;
    const versions = ring.allKeys().map((key) => ({
      kid: key.kid,
      ref: key.backendKey.ref,
      enabled: key.backendKey.enabled,
      createdAt: key.backendKey.createdAt.getTime(),
    }));
    const plan = planKeyStates(await store.listKeyStates(), versions, {
      ...times,
      now: this.now(),
    });
    for (const record of plan.changed) {
      await store.putKeyState(record);
      logger.info({ kid: record.kid, ref: record.ref, state: record.state }, `key ${record.state}`);
    }
    this.records = plan.records;
    await this.disableRetired(plan.changed);
  }

  private async disableRetired(changed: KeyStateRecord[]): Promise<void> {
    const { ring, disableRetired, logger } = this.options;
    if (!disableRetired || !ring.backend.disableKey) return;
    for (const record of changed) {
      const key = ring.allKeys().find((item) => item.kid === record.kid);
      if (record.state !== 'retired' || !key?.backendKey.enabled) continue;
      try {
        await ring.backend.disableKey(key.backendKey);
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
