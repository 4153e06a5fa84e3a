import type Database from 'better-sqlite3';

interface Queued {
  operation: () => unknown;
  resolve: (value: unknown) => void;
  reject: (reason: unknown) => void;
}

/**
 * Group commit: writes that arrive together (in one turn of the event loop) share one
 * transaction, so one fsync makes all of them durable instead of one fsync each. Each write runs
 * in its own SAVEPOINT, so one that fails is rolled back alone and the others still commit.
 * A write's promise settles only after the COMMIT (synchronous=FULL) returned: an answer sent
 * on it is as durable as one sent after an autocommit.
 */
export class GroupCommit {
  private queue: Queued[] = [];
  private readonly statements;

  constructor(private readonly db: Database.Database) {
    this.statements = {
      // IMMEDIATE: the write lock is taken at once, as an autocommit write would.
      begin: db.prepare('BEGIN IMMEDIATE'),
      commit: db.prepare('COMMIT'),
      savepoint: db.prepare('SAVEPOINT write'),
      release: db.prepare('RELEASE write'),
      rollbackTo: db.prepare('ROLLBACK TO write'),
    };
  }

  /** Runs `operation` (synchronous statements) in the next group; resolves once committed. */
  run<T>(operation: () => T): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      if (this.queue.length === 0) setImmediate(() => this.flush());
      this.queue.push({ operation, resolve: resolve as (value: unknown) => void, reject });
    });
  }

  private flush(): void {
    const group = this.queue;
    this.queue = [];
    const s = this.statements;
    const outcomes: ({ ok: true; value: unknown } | { ok: false; error: unknown })[] = [];
    try {
      s.begin.run();
      for (const { operation } of group) {
        s.savepoint.run();
        try {
          outcomes.push({ ok: true, value: operation() });
          s.release.run();
        } catch (error) {
          s.rollbackTo.run();
          s.release.run();
          outcomes.push({ ok: false, error });
        }
      }
      s.commit.run();
    } catch (error) {
      // BEGIN or COMMIT failed (busy, disk full, I/O error): nothing of the group is durable.
      if (this.db.inTransaction) this.db.exec('ROLLBACK');
      for (const { reject } of group) reject(error);
      return;
    }
    group.forEach(({ resolve, reject }, index) => {
      const outcome = outcomes[index]!;
      if (outcome.ok) resolve(outcome.value);
      else reject(outcome.error);
    });
  }
}
