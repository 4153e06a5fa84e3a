import type { Logger } from 'pino';
import { describeError } from '../errors.js';
import type { Metrics } from '../metrics.js';
import { type AuditEvent, type AuditInput, toEvent } from './event.js';
import type { AuditStore } from './store.js';

export interface AuditTrailOptions {
  store: AuditStore;
  logger: Pick<Logger, 'warn'>;
  metrics?: Metrics;
  /** Off: record() does nothing (the bench's baseline). */
  enabled: boolean;
  /** A batch is written at least this often… */
  flushMs: number;
  /** …or as soon as this many events wait. */
  batchSize: number;
  /** Events held in memory at most; beyond it new events are dropped and counted. */
  queueSize: number;
  now?: () => number;
}

/**
 * The audit trail's writer. `record()` only appends to a bounded in-memory queue and never
 * waits, throws or fails the request it describes; batches are written off the hot path. When
 * the store cannot be reached the batch goes back to the queue and is retried at the next
 * flush; when the queue is full, new events are dropped and counted in
 * `wfid_audit_events_dropped_total`, so a store outage never blocks or fails a mint.
 */
export class AuditTrail {
  private queue: AuditEvent[] = [];
  private timer?: NodeJS.Timeout;
  private flushing?: Promise<void>;
  private soon = false;
  private readonly now: () => number;

  constructor(private readonly options: AuditTrailOptions) {
    this.now = options.now ?? Date.now;
  }

  get store(): AuditStore {
    return this.options.store;
  }

  /** Events waiting to be written. */
  get queued(): number {
    return this.queue.length;
  }

  record(input: AuditInput): void {
    if (!this.options.enabled) return;
    if (this.queue.length >= this.options.queueSize) {
      this.options.metrics?.auditDropped.inc({ reason: 'queue_full' });
      return;
    }
    this.queue.push(toEvent(input, this.now()));
    if (this.queue.length >= this.options.batchSize && !this.soon) {
      this.soon = true;
      setImmediate(() => {
        this.soon = false;
        void this.flush();
      });
    }
  }

  /** Starts the periodic flush. */
  start(): void {
    this.timer ??= setInterval(() => void this.flush(), this.options.flushMs);
    this.timer.unref();
  }

  /** Writes everything queued now, one batch at a time; never throws. */
  flush(): Promise<void> {
    this.flushing ??= this.drain().finally(() => {
      this.flushing = undefined;
    });
    return this.flushing;
  }

  async close(): Promise<void> {
    clearInterval(this.timer);
    this.timer = undefined;
    await this.flush();
  }

  private async drain(): Promise<void> {
    const { store, batchSize, queueSize, metrics, logger } = this.options;
    while (this.queue.length > 0) {
      const batch = this.queue.splice(0, batchSize);
      metrics?.auditQueued.set(this.queue.length);
      try {
        await store.appendEvents(batch);
        metrics?.auditWritten.inc(batch.length);
      } catch (err) {
        metrics?.auditWriteFailures.inc();
        logger.warn(
          { err: describeError(err), events: batch.length },
          'audit write failed; retrying later',
        );
        // Back to the front, within the bound: what no longer fits is dropped and counted.
        const room = Math.max(0, queueSize - this.queue.length);
        if (batch.length > room)
          metrics?.auditDropped.inc({ reason: 'store_unavailable' }, batch.length - room);
        this.queue.unshift(...batch.slice(0, room));
        return;
      }
    }
    metrics?.auditQueued.set(0);
  }
}
