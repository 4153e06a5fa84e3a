/** What one write of a group came to: its value, or the error that failed it alone. */
export type WriteOutcome<R> = { ok: true; value: R } | { ok: false; error: unknown };

/** A write's promise, to settle once its group committed. */
export interface Settler<R> {
  resolve: (value: R) => void;
  reject: (reason: unknown) => void;
}

interface Queued<W, R> extends Settler<R> {
  write: W;
}

/** Settles each write of a group with its own outcome (`outcomes` in the group's order). */
export function settle<R>(
  group: readonly Settler<R>[],
  outcomes: readonly WriteOutcome<R>[],
): void {
  group.forEach(({ resolve, reject }, index) => {
    const outcome = outcomes[index]!;
    if (outcome.ok) resolve(outcome.value);
    else reject(outcome.error);
  });
}

/**
 * Group commit for a networked store: writes that arrive while the previous group commits (or
 * in the same turn of the event loop when none does) are committed together, in one round trip
 * and one transaction, so one WAL flush makes all of them durable. `commit` answers each write
 * on its own (one write's failure fails only that write) or throws, failing the whole group,
 * when nothing of it may have committed. A write's promise settles only after its group's commit
 * returned: an answer sent on it is as durable as one sent after an autocommit.
 *
 * Two writes to the same key (the same execution) never share a group: the later one waits for
 * the next, so writes to one execution keep the order they arrived in, as they would one by one.
 */
export class WriteBatch<W, R> {
  private queue: Queued<W, R>[] = [];
  private committing = false;
  private scheduled = false;

  constructor(
    private readonly commit: (writes: W[]) => Promise<WriteOutcome<R>[]>,
    private readonly keyOf: (write: W) => string,
    /** Bounds one statement's size; the rest waits for the next group. */
    private readonly maxGroup = 256,
  ) {}

  /** Queues `write` for the next group; resolves with its outcome once that group committed. */
  run(write: W): Promise<R> {
    return new Promise<R>((resolve, reject) => {
      this.queue.push({ write, resolve, reject });
      this.schedule();
    });
  }

  private schedule(): void {
    if (this.committing || this.scheduled || this.queue.length === 0) return;
    this.scheduled = true;
    // One turn of the event loop lets writes that arrive together join the group.
    setImmediate(() => {
      this.scheduled = false;
      void this.flush();
    });
  }

  private async flush(): Promise<void> {
    const group = this.takeGroup();
    this.committing = true;
    try {
      settle(group, await this.commit(group.map(({ write }) => write)));
    } catch (error) {
      for (const { reject } of group) reject(error);
    } finally {
      this.committing = false;
      this.schedule();
    }
  }

  /** The oldest writes, at most one per key and `maxGroup` in all; the others stay queued in order. */
  private takeGroup(): Queued<W, R>[] {
    const group: Queued<W, R>[] = [];
    const later: Queued<W, R>[] = [];
    const keys = new Set<string>();
    for (const queued of this.queue) {
      const key = this.keyOf(queued.write);
      if (group.length < this.maxGroup && !keys.has(key)) {
        keys.add(key);
        group.push(queued);
      } else {
        later.push(queued);
      }
    }
    this.queue = later;
    return group;
  }
}
