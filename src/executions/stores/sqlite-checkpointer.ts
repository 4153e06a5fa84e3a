import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';
import type Database from 'better-sqlite3';
import type { StoreLogger } from './driver.js';

/** How often the checkpointer looks for new commits to copy into the database file. */
export const CHECKPOINT_INTERVAL_MS = 1000;
/** SQLite's own default, restored when the checkpointer stops working. */
const AUTOCHECKPOINT_PAGES = 1000;

/**
 * The worker's code (CommonJS, run with `eval`, so it works the same from src/ under the tests
 * and from dist/). Its own connection runs `PRAGMA wal_checkpoint(PASSIVE)` at its first look,
 * whenever `data_version` says another connection committed since, and after any checkpoint that
 * could not copy everything. PASSIVE never blocks the writer.
 */
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const Database = require(workerData.driver);
const db = new Database(workerData.path, { fileMustExist: true });
// Waiting for a lock costs nothing here: this thread serves no request.
db.pragma('busy_timeout = 1000');
db.pragma('synchronous = FULL');
db.pragma('wal_autocheckpoint = 0');
const dataVersion = db.prepare('PRAGMA data_version').pluck();
const checkpoint = db.prepare('PRAGMA wal_checkpoint(PASSIVE)');
let done; // the data_version up to which everything is copied; none yet, so the first look copies
const timer = setInterval(() => {
  try {
    const version = dataVersion.get();
    if (version === done) return;
    const [result] = checkpoint.all();
    // Busy or partial (a reader still needs old frames): look again next time, commit or not.
    if (result.busy === 0 && result.checkpointed === result.log) done = version;
    parentPort.postMessage(result);
  } catch (error) {
    // Another process holds a lock longer than the busy timeout (a replica, the CLI, recovery).
    if (error.code !== 'SQLITE_BUSY' && error.code !== 'SQLITE_LOCKED') throw error;
  }
}, workerData.intervalMs);
parentPort.on('message', () => {
  clearInterval(timer);
  db.close();
  parentPort.close();
});
`;

export interface CheckpointResult {
  /** 1 when another connection held a lock the checkpoint needed (it tries again next time). */
  busy: number;
  /** Frames in the WAL. */
  log: number;
  /** Frames copied into the database file so far. */
  checkpointed: number;
}

/**
 * WAL checkpoints off the event loop. SQLite checkpoints inside the COMMIT that takes the WAL
 * past 1000 pages: it copies the pages into the database file and fsyncs both files, on the
 * thread that committed. For the issuer that is the event loop, so every such commit stalled all
 * requests for one to two disk flushes: the longest group commits measured (5–17 ms against a
 * median of 0.4 ms) were these. Here the issuer's connection never checkpoints; a worker thread
 * with a connection of its own does, once a second when anything was committed. What stays on
 * the event loop is the first commit after a complete checkpoint: it starts the WAL over and
 * flushes the new WAL header, one small fsync at most once a second.
 *
 * If the worker stops (it could not open the file, or it failed), the issuer's connection goes
 * back to SQLite's automatic checkpoints and a warning is logged: the WAL never grows unbounded.
 */
export class WalCheckpointer {
  private readonly worker: Worker;
  private stopping = false;
  private readonly exited: Promise<void>;

  constructor(
    private readonly db: Database.Database,
    path: string,
    options: {
      logger?: StoreLogger;
      intervalMs?: number;
      /** Each checkpoint's result (tests). */
      onCheckpoint?: (result: CheckpointResult) => void;
    } = {},
  ) {
    db.pragma('wal_autocheckpoint = 0');
    this.worker = new Worker(WORKER_SOURCE, {
      eval: true,
      workerData: {
        driver: createRequire(import.meta.url).resolve('better-sqlite3'),
        path,
        intervalMs: options.intervalMs ?? CHECKPOINT_INTERVAL_MS,
      },
    });
    // The worker's timer keeps nothing alive: the store's close() stops it.
    this.worker.unref();
    if (options.onCheckpoint) this.worker.on('message', options.onCheckpoint);
    let failure: unknown;
    this.worker.on('error', (error) => {
      failure = error;
    });
    this.exited = new Promise((done) => {
      this.worker.once('exit', (code) => {
        if (!this.stopping && this.db.open) {
          this.db.pragma(`wal_autocheckpoint = ${AUTOCHECKPOINT_PAGES}`);
          options.logger?.warn(
            { code, err: failure instanceof Error ? failure.message : failure },
            'the SQLite checkpoint worker stopped; checkpoints run on the event loop again',
          );
        }
        done();
      });
    });
  }

  /** Stops checkpointing and closes the worker's connection (before the store closes its own). */
  async stop(): Promise<void> {
    if (!this.stopping) {
      this.stopping = true;
      // Referenced again, or a process with nothing else to do exits before the worker does and
      // this promise never settles (a CLI command that prints after closing the store).
      this.worker.ref();
      this.worker.postMessage('stop');
    }
    await this.exited;
  }
}
