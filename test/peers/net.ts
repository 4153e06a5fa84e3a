/** The tests' (and bench's) one way to find a port and to wait for something to hold. */
import { createServer } from 'node:net';

/** A port free on 127.0.0.1 now (the OS picks it); whoever listens next takes it. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

export interface UntilOptions {
  timeoutMs?: number;
  /** What is waited for, in the timeout's message. */
  what?: string;
  everyMs?: number;
}

/**
 * Polls `check` until it holds, or fails after the timeout (default 15 s). A check that throws
 * fails at once: wrap it (`() => check().catch(() => false)`) to wait through errors.
 */
export async function until(
  check: () => Promise<boolean>,
  options: UntilOptions | number = {},
): Promise<void> {
  const {
    timeoutMs = 15_000,
    what = 'condition',
    everyMs = 200,
  } = typeof options === 'number' ? { timeoutMs: options } : options;
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`${what} not reached within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, everyMs));
  }
}
