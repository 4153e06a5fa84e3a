import { setTimeout as sleep } from 'node:timers/promises';

/** How a backend retries a call to its key service after a transient fault. */
export interface RetryPolicy {
  /** Extra attempts after a transient fault. */
  retries: number;
  /** Backoff ceiling before the first retry; it doubles per attempt up to `maxBackoffMs`. */
  backoffMs: number;
  maxBackoffMs: number;
}

export interface RetryOptions {
  /** Whether a later attempt may succeed (throttling, a restarting service, a dropped socket). */
  isTransient(err: unknown): boolean;
  /** Total attempts; default `retries + 1`. A call that must not run twice passes 1. */
  attempts?: number;
  onRetry?(err: unknown, attempt: number, delayMs: number): void;
}

/**
 * Runs `call`, retrying transient faults with exponential backoff, and rethrows the last
 * error as it is (each backend maps it to a WfidError). The one retry loop of every remote
 * backend, so they all wait alike.
 */
export async function retryTransient<T>(
  policy: RetryPolicy,
  options: RetryOptions,
  call: () => Promise<T>,
): Promise<T> {
  const attempts = options.attempts ?? policy.retries + 1;
  for (let attempt = 1; ; attempt++) {
    try {
      return await call();
    } catch (err) {
      if (attempt >= attempts || !options.isTransient(err)) throw err;
      const delay = backoffDelay(policy, attempt);
      options.onRetry?.(err, attempt, delay);
      await sleep(delay);
    }
  }
}

/**
 * The wait after failed attempt `attempt` (1-based): half the ceiling fixed, half random
 * ("equal jitter"), so a fleet of issuers recovering from one outage does not retry in step
 * and none retries at once.
 */
export function backoffDelay(policy: RetryPolicy, attempt: number): number {
  const ceiling = Math.min(policy.maxBackoffMs, policy.backoffMs * 2 ** (attempt - 1));
  return ceiling / 2 + Math.random() * (ceiling / 2);
}
