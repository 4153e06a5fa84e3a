import { describe, expect, it } from 'vitest';
import { backoffDelay, retryTransient } from '../../src/keys/retry.js';

const policy = { retries: 2, backoffMs: 1, maxBackoffMs: 4 };
const transient = Object.assign(new Error('later'), { transient: true });
const isTransient = (err: unknown) => (err as { transient?: boolean }).transient === true;

describe('retryTransient, the retry loop of every remote backend', () => {
  it('retries a transient fault until the call succeeds', async () => {
    let calls = 0;
    const result = await retryTransient(policy, { isTransient }, async () => {
      calls++;
      if (calls < 3) throw transient;
      return 'signed';
    });
    expect(result).toBe('signed');
    expect(calls).toBe(3);
  });

  it('gives up after retries + 1 attempts and rethrows the last error as it is', async () => {
    let calls = 0;
    const retried: number[] = [];
    const call = retryTransient(
      policy,
      { isTransient, onRetry: (_err, attempt) => retried.push(attempt) },
      async () => {
        calls++;
        throw transient;
      },
    );
    await expect(call).rejects.toBe(transient);
    expect(calls).toBe(3);
    expect(retried).toEqual([1, 2]);
  });

  it('never retries a permanent fault, nor a call allowed one attempt', async () => {
    let calls = 0;
    const permanent = new Error('access denied');
    await expect(
      retryTransient(policy, { isTransient }, async () => {
        calls++;
        throw permanent;
      }),
    ).rejects.toBe(permanent);
    await expect(
      retryTransient(policy, { isTransient, attempts: 1 }, async () => {
        calls++;
        throw transient;
      }),
    ).rejects.toBe(transient);
    expect(calls).toBe(2);
  });

  it('waits between half and all of a ceiling that doubles up to the maximum', () => {
    const wide = { retries: 5, backoffMs: 100, maxBackoffMs: 1_000 };
    for (const [attempt, ceiling] of [
      [1, 100],
      [2, 200],
      [3, 400],
      [4, 800],
      [5, 1_000],
      [9, 1_000],
    ] as const) {
      for (let i = 0; i < 50; i++) {
        const delay = backoffDelay(wide, attempt);
        expect(delay).toBeGreaterThanOrEqual(ceiling / 2);
        expect(delay).toBeLessThanOrEqual(ceiling);
      }
    }
  });
});
