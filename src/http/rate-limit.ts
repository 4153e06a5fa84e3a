import { WfidError } from '../errors.js';

/**
 * Tokens per minute per execution, counted in fixed one-minute windows in this process.
 * With several replicas each counts on its own, so the effective limit is per replica.
 */
export class MintRateLimit {
  private windowStart = 0;
  private counts = new Map<string, number>();

  constructor(
    private readonly perMinute: number,
    private readonly now: () => number = Date.now,
  ) {}

  /** `key` names one execution: its engine and id (ids are unique per engine only). */
  take(key: string): void {
    if (this.perMinute === 0) return;
    const now = this.now();
    if (now - this.windowStart >= 60_000) {
      // A new window: dropping the map also bounds memory to one minute of executions.
      this.windowStart = now;
      this.counts = new Map();
    }
    const count = (this.counts.get(key) ?? 0) + 1;
    this.counts.set(key, count);
    if (count > this.perMinute) {
      const retryAfter = Math.max(1, Math.ceil((this.windowStart + 60_000 - now) / 1000));
      throw new WfidError(
        'ERR_RATE_LIMITED',
        `more than ${this.perMinute} tokens per minute for this execution`,
        { retryAfter },
      );
    }
  }
}
