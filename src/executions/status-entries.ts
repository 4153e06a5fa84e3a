import { randomInt } from 'node:crypto';
import type { StatusEntry } from './execution.js';
import type { StatusListStore } from './store.js';

/** Entries reserved per store write: a registration costs a write of its own once in 64. */
const BLOCK = 64;
/**
 * A block is dropped this long after it was reserved, its rest left unused (INVALID): an idle
 * replica never hands out an entry of a list that the others stopped filling long ago.
 */
export const STATUS_BLOCK_MAX_AGE_MS = 60_000;

/**
 * The number of the first list a store opens: random, not 0. Keys outlive stores (a new
 * database, a move from SQLite to PostgreSQL, Redis restarted without persistence, the memory
 * store after any restart): a store that started empty and counted from list 0 again would give
 * each index of list 0 to a new execution while tokens of the old store's ended executions
 * naming that index are still valid, and those would read VALID. Below 5e8, so list numbers stay
 * within the nine digits the status list endpoint reads. (PostgreSQL draws its own in a
 * migration, so that replicas racing to open the first list agree on its number.)
 */
export function firstStatusList(): number {
  return randomInt(0, 500_000_000);
}

/**
 * Hands out this replica's status list entries from blocks it reserves in the store. Every
 * entry goes to one execution only; entries of a block never handed out (a restart, an idle
 * minute) stay INVALID for good.
 */
export class StatusEntryAllocator {
  private block?: { list: number; next: number; end: number; reservedAt: number };
  private reserving?: Promise<void>;

  constructor(
    private readonly store: StatusListStore,
    private readonly listSize: number,
  ) {}

  async next(now: number): Promise<StatusEntry> {
    for (;;) {
      const block = this.block;
      if (block && block.next < block.end && now - block.reservedAt < STATUS_BLOCK_MAX_AGE_MS) {
        return { list: block.list, idx: block.next++ };
      }
      // Concurrent registrations share one reservation.
      this.reserving ??= this.reserve(now).finally(() => {
        this.reserving = undefined;
      });
      await this.reserving;
    }
  }

  private async reserve(now: number): Promise<void> {
    const { list, idx, count } = await this.store.reserveStatusEntries(BLOCK, this.listSize, now);
    this.block = { list, next: idx, end: idx + count, reservedAt: now };
  }
}
