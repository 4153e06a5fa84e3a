import { closeSync, fdatasync, fstatSync, openSync, realpathSync, statSync } from 'node:fs';
import type Database from 'better-sqlite3';
import { WfidError } from '../../errors.js';
import { type Settler, settle, type WriteOutcome } from './write-batch.js';

interface Queued extends Settler<unknown> {
  operation: () => unknown;
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
 * of yet, an end (which makes the issuer stricter), or a request token of a repeat or resume
 * that was never handed out.
 *
 * A failed fdatasync is final: Linux may drop the pages it could not write and report the next
 * sync as a success, so no later write could be trusted to be durable. Every write waiting for
 * a sync fails, and so does every later one (`check()` guards the store's other writes too),
 * with ERR_STORE_UNAVAILABLE, and readiness fails, until the issuer restarts.
 */
export class GroupCommit {
  private queue: Queued[] = [];
  private readonly statements;
  /** The WAL file; `null` for an in-memory database (nothing to sync). */
  private walFd: number | null;
  private syncing = false;
  private awaitingSync: AwaitingSync[] = [];
  private failed?: WfidError;

  constructor(
    private readonly db: Database.Database,
    /** The database file; undefined for an in-memory database. */
    databasePath: string | undefined,
    private readonly syncFile: SyncFile = fdatasync,
  ) {
    this.walFd = databasePath === undefined ? null : openWal(databasePath);
    this.statements = {
      // IMMEDIATE: the write lock is taken at once, as an autocommit write would.
      begin: db.prepare('BEGIN IMMEDIATE'),
      commit: db.prepare('COMMIT'),
      savepoint: db.prepare('SAVEPOINT write'),
      release: db.prepare('RELEASE write'),
      rollbackTo: db.prepare('ROLLBACK TO write'),
      relaxed: db.prepare('PRAGMA synchronous = NORMAL'),
      full: db.prepare('PRAGMA synchronous = FULL'),
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

  /** Throws once the store can no longer promise durability (a failed sync, or closed). */
  check(): void {
    if (this.failed) throw this.failed;
  }

  /**
   * Runs `transaction` now and commits it without waiting for the disk: a writer that needs it
   * durable awaits durable() afterwards (the audit trail, whose events already waited in memory).
   */
  commitUnsynced<T>(transaction: () => T): T {
    this.check();
    this.statements.relaxed.run();
    try {
      return this.db.transaction(transaction)();
    } finally {
      this.restoreFull();
    }
  }

  /** Resolves once everything committed on this connection so far is on disk. */
  durable(): Promise<void> {
    if (this.failed) return Promise.reject(this.failed);
    if (this.walFd === null) return Promise.resolve();
    return new Promise((resolve, reject) => {
      this.awaitingSync.push({ resolve, reject });
      if (!this.syncing) this.sync();
    });
  }

  /** Refuses new writes, lets the queued ones commit and become durable, then lets go of the WAL file. */
  async close(): Promise<void> {
    // A group queued before close is flushed on its setImmediate, which runs before this one.
    await new Promise((flushed) => setImmediate(flushed));
    if (this.syncing || this.awaitingSync.length > 0) await this.durable().catch(() => {});
    this.fail(new WfidError('ERR_STORE_UNAVAILABLE', 'the SQLite store is closed'));
    if (this.walFd !== null) closeSync(this.walFd);
    this.walFd = null;
  }

  private flush(): void {
    const group = this.queue;
    this.queue = [];
    if (this.failed) {
      for (const { reject } of group) reject(this.failed);
      return;
    }
    const s = this.statements;
    const outcomes: WriteOutcome<unknown>[] = [];
    let committed = false;
    try {
      // The fsync is ours (durable() below), not SQLite's: the connection's other writes keep FULL.
      s.relaxed.run();
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
      committed = true;
    } catch (error) {
      // BEGIN or COMMIT failed (busy, disk full, I/O error): nothing of the group is durable.
      try {
        if (this.db.inTransaction) this.db.exec('ROLLBACK');
      } catch {}
      for (const { reject } of group) reject(error);
    } finally {
      this.restoreFull();
    }
    if (!committed) return;
    this.durable().then(
      () => settle(group, outcomes),
      (error) => {
        for (const { reject } of group) reject(error);
      },
    );
  }

  /** Back to synchronous=FULL; a connection that cannot get there (stuck in a transaction) writes no more. */
  private restoreFull(): void {
    try {
      this.statements.full.run();
    } catch (error) {
      this.fail(
        new WfidError(
          'ERR_STORE_UNAVAILABLE',
          'the SQLite store is in an unknown state; restart the issuer',
          {
            cause: error,
          },
        ),
      );
    }
  }

  private sync(): void {
    const waiting = this.awaitingSync;
    this.awaitingSync = [];
    this.syncing = true;
    this.syncFile(this.walFd!, (error) => {
      this.syncing = false;
      if (error) {
        this.fail(
          new WfidError(
            'ERR_STORE_UNAVAILABLE',
            'the SQLite store could not sync its WAL to disk; restart the issuer',
            { cause: error },
          ),
        );
        for (const { reject } of waiting) reject(this.failed);
        return;
      }
      for (const { resolve } of waiting) resolve();
      if (this.awaitingSync.length > 0) this.sync();
    });
  }

  /** From now on nothing is written or acknowledged: everything waiting and every later write fails. */
  private fail(error: WfidError): void {
    this.failed ??= error;
    const waiting = this.awaitingSync;
    this.awaitingSync = [];
    for (const { reject } of waiting) reject(this.failed);
  }
}

/**
 * Opens the WAL file SQLite writes: next to the database's real path (SQLite resolves symlinks),
 * so a stale `-wal` beside a symlink is never the one synced. The database is in WAL mode and
 * has been read, so the file exists; SQLite keeps it while this connection is open.
 */
function openWal(databasePath: string): number {
  const walPath = `${realpathSync(databasePath)}-wal`;
  const fd = openSync(walPath, 'r');
  const opened = fstatSync(fd);
  const named = statSync(walPath);
  if (opened.dev !== named.dev || opened.ino !== named.ino) {
    closeSync(fd);
    throw new WfidError(
      'ERR_STORE_UNAVAILABLE',
      `the SQLite WAL file ${walPath} changed while opened`,
    );
  }
  return fd;
}
