import { statSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { SqliteStore } from '../../src/executions/stores/sqlite.js';
import {
  type CheckpointResult,
  WalCheckpointer,
} from '../../src/executions/stores/sqlite-checkpointer.js';
import { execution } from './store-suite.js';

const PAGE = 4096;
/** Rows of one chunk of writes: about 200 WAL pages. */
const CHUNK_ROWS = 200;
const INTERVAL_MS = 20;

describe('WAL checkpoints off the event loop', () => {
  let dir: string;
  let path: string;
  let db: Database.Database;

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'wfid-checkpoint-'));
    path = join(dir, 'wfid.db');
    db = new Database(path);
    db.pragma('journal_mode = WAL');
    db.exec('CREATE TABLE rows (id INTEGER PRIMARY KEY, body BLOB)');
  });

  afterEach(async () => {
    if (db.open) db.close();
    await rm(dir, { recursive: true, force: true });
  });

  const writeChunk = () => {
    const insert = db.prepare('INSERT INTO rows (body) VALUES (?)');
    db.transaction(() => {
      for (let i = 0; i < CHUNK_ROWS; i++) insert.run(Buffer.alloc(PAGE - 200, i));
    })();
  };
  const walBytes = () => statSync(`${path}-wal`).size;

  it('the worker copies every commit into the database file, so the WAL is reused instead of growing', async () => {
    const results: CheckpointResult[] = [];
    let lastResultAt = 0;
    const checkpointer = new WalCheckpointer(db, path, {
      intervalMs: INTERVAL_MS,
      onCheckpoint: (result) => {
        results.push(result);
        lastResultAt = performance.now();
      },
    });
    // The connection that serves requests never checkpoints inside its own commits.
    expect(db.pragma('wal_autocheckpoint', { simple: true })).toBe(0);
    for (let chunk = 0; chunk < 10; chunk++) {
      const before = results.length;
      writeChunk();
      // A checkpoint that ran while the chunk was being written reports on the commits before
      // it; the worker then checkpoints again at its next look. So wait until it has gone quiet:
      // it has looked several times since its last checkpoint and found nothing new.
      await vi.waitFor(
        () => {
          expect(results.length).toBeGreaterThan(before);
          expect(performance.now() - lastResultAt).toBeGreaterThan(10 * INTERVAL_MS);
          const last = results.at(-1)!;
          expect(last.busy).toBe(0);
          expect(last.checkpointed).toBe(last.log);
        },
        { timeout: 10_000, interval: INTERVAL_MS },
      );
    }
    // Ten chunks of about 200 pages each went through a WAL that holds about two of them: after a
    // complete checkpoint the next commit starts the WAL over from its beginning. Nothing else
    // checkpoints this connection (autocheckpoint is 0): without the worker it would hold all ten.
    expect(walBytes()).toBeLessThan(3 * CHUNK_ROWS * PAGE);
    expect(db.prepare('SELECT count(*) FROM rows').pluck().get()).toBe(10 * CHUNK_ROWS);
    await checkpointer.stop();
  });

  it('comes back to a checkpoint a reader held up, without waiting for another commit', async () => {
    const results: CheckpointResult[] = [];
    writeChunk();
    // A reader (another process, the CLI) holds a snapshot from before the next chunk.
    const reader = new Database(path);
    reader.exec('BEGIN');
    reader.prepare('SELECT count(*) FROM rows').get();
    writeChunk();
    const checkpointer = new WalCheckpointer(db, path, {
      intervalMs: INTERVAL_MS,
      onCheckpoint: (result) => results.push(result),
    });
    await vi.waitFor(() => expect(results.some((r) => r.checkpointed < r.log)).toBe(true), {
      timeout: 5000,
      interval: 10,
    });
    reader.exec('COMMIT');
    reader.close();
    await vi.waitFor(
      () => {
        const last = results.at(-1)!;
        expect(last.checkpointed).toBe(last.log);
      },
      { timeout: 5000, interval: 10 },
    );
    await checkpointer.stop();
  });

  it('hands checkpoints back to SQLite, with a warning, when the worker stops on its own', async () => {
    const warn = vi.fn();
    // The worker cannot open a database that is not there (moved away under the issuer).
    new WalCheckpointer(db, join(dir, 'gone.db'), { logger: { warn }, intervalMs: INTERVAL_MS });
    await vi.waitFor(() => expect(warn).toHaveBeenCalledTimes(1), { timeout: 5000 });
    expect(warn.mock.calls[0]![1]).toContain('checkpoints run on the event loop again');
    expect(db.pragma('wal_autocheckpoint', { simple: true })).toBe(1000);
  });

  it('stops quietly when the store closes, and the store reopens with every write', async () => {
    db.close();
    const warn = vi.fn();
    const store = new SqliteStore(path, { logger: { warn }, checkpointIntervalMs: INTERVAL_MS });
    const records = Array.from({ length: 50 }, () => execution());
    await Promise.all(records.map((record) => store.insertExecution(record)));
    await store.close();
    expect(warn).not.toHaveBeenCalled();
    const reopened = new SqliteStore(path);
    for (const record of records) {
      expect(await reopened.getExecution(record.engine, record.executionId)).toEqual(record);
    }
    await reopened.close();
  });
});
