import { close, fdatasync, openSync } from 'node:fs';
import type Database from 'better-sqlite3';
import { WfidError } from '../../errors.js';

interface Queued {
  operation: () => unknown;
  resolve: (value: unknown) => void;
  reject: (reason: unknown) => void;
}

/** Syncs a file's data to disk: fdatasync, or a test's stand-in that decides when it completes. */
export type SyncFile = (fd: number, done: (error: NodeJS.ErrnoException | null) => void) => void;

interface AwaitingSync {
  resolve: () => void;
  reject: (reason: unknown) => void;
}

/**
 * Group commit: writes that arrive together (in one turn of the event loop) share one
 * transaction, so one WAL flush makes all of them durable instead of one flush each. Each write
 * runs in its own SAVEPOINT, so one that fails is rolled back alone and the others still commit.
 *
 * The flush runs off the event loop. The group commits with `synchronous = NORMAL` (SQLite
 * writes the WAL frames and returns), then `fdatasync` of the WAL file runs on libuv's thread
 * pool while the event loop goes on serving: mints, and the next group. A write's promise
 * settles only after a sync that started after its COMMIT completed, so an answer sent on it
 * is as durable as one sent after a synchronous=FULL commit. One sync is in flight at a time;
 * groups that commit meanwhile share the next one.
 *
 * What changes: a committed write is visible (to this connection and to other processes)
 * before it is durable, for the length of one sync. A crash then may undo a write that was
 * read but never acknowledged. That is only ever a registration nobody holds a request token
 * of yet, an end or a wait (which make the issuer stricter), or a resume its caller retries.
 *
 * A failed fdatasync is final: Linux may drop the pages it could not write and report the next
 * sync as a success, so no later write could be trusted to be durable. The store then refuses
 * every write (ERR_STORE_UNAVAILABLE, readiness fails) until the issuer restarts.
 */
export class GroupCommit {
  private queue: Queued[] = [];
  private readonly statements;
  /** The WAL file, opened at the first sync; `null` for an in-memory database (nothing to sync). */
  private walFd: number | null | undefined;
  private syncing = false;
  private awaitingSync: AwaitingSync[] = [];
  private failed?: WfidError;

  constructor(
    private readonly db: Database.Database,
    /** The WAL file to sync (`<database>-wal`); undefined for an in-memory database. */
    private readonly walPath: string | undefined,
    private readonly syncFile: SyncFile = fdatasync,
  ) {
    this.walFd = walPath === undefined ? null : undefined;
    this.statements = {
      // IMMEDIATE: the write lock is taken at once, as an autocommit write would.
      begin: db.prepare('BEGIN IMMEDIATE'),
      commit: db.prepare('COMMIT'),
      savepoint: db.prepare('SAVEPOINT write'),
      release: db.prepare('RELEASE write'),
      rollbackTo: db.prepare('ROLLBACK TO write'),
    };
  }

  /** Runs `operation` (synchronous statements) in the next group; resolves once durable. */
  run<T>(operation: () => T): Promise<T> {
    if (this.failed) return Promise.reject(this.failed);
    return new Promise<T>((resolve, reject) => {
      if (this.queue.length === 0) setImmediate(() => this.flush());
      this.queue.push({ operation, resolve: resolve as (value: unknown) => void, reject });
    });
  }

  /** Throws once a WAL sync failed (readiness). */
  check(): void {
    if (this.failed) throw this.failed;
  }

  /** Waits for the groups committed so far to be durable, then lets go of the WAL file. */
  async close(): Promise<void> {
    // A group queued before close is flushed on its setImmediate, which runs before this one.
    await new Promise((flushed) => setImmediate(flushed));
    if (this.syncing || this.awaitingSync.length > 0) await this.durable().catch(() => {});
    if (typeof this.walFd === 'number') close(this.walFd, () => {});
    this.walFd = null;
  }

  private flush(): void {
    const group = this.queue;
    this.queue = [];
    const s = this.statements;
    const outcomes: ({ ok: true; value: unknown } | { ok: false; error: unknown })[] = [];
    // The fsync is ours (durable() below), not SQLite's: the connection's other writes keep FULL.
    this.db.pragma('synchronous = NORMAL');
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
    } finally {
      this.db.pragma('synchronous = FULL');
    }
    this.durable().then(
      () =>
        group.forEach(({ resolve, reject }, index) => {
          const outcome = outcomes[index]!;
          if (outcome.ok) resolve(outcome.value);
          else reject(outcome.error);
        }),
      (error) => {
        for (const { reject } of group) reject(error);
      },
    );
  }

  /** Resolves once everything written to the WAL before the call is on disk. */
  private durable(): Promise<void> {
    if (this.walFd === null) return Promise.resolve();
    return new Promise((resolve, reject) => {
      this.awaitingSync.push({ resolve, reject });
      if (!this.syncing) this.sync();
    });
  }

  private sync(): void {
    const waiting = this.awaitingSync;
    this.awaitingSync = [];
    this.syncing = true;
    const done = (error: unknown) => {
      this.syncing = false;
      if (error) {
        this.failed ??= new WfidError(
          'ERR_STORE_UNAVAILABLE',
          'the SQLite store could not sync its WAL to disk; restart the issuer',
          { cause: error },
        );
        for (const { reject } of waiting) reject(this.failed);
      } else {
        for (const { resolve } of waiting) resolve();
      }
      if (this.awaitingSync.length > 0) this.sync();
    };
    try {
      // SQLite keeps the WAL file while this connection is open; fsync covers the file, whoever wrote it.
      if (this.walFd === undefined) this.walFd = openSync(this.walPath!, 'r');
    } catch (error) {
      done(error);
      return;
    }
    this.syncFile(this.walFd as number, done);
  }
}
