export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

export function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

/**
 * CPU milliseconds of this process. In-process figures are per CPU-second, not wall time: on
 * a shared machine neighbours steal whole slices from one side of a round, while CPU time
 * keeps the ratio about the code. Single-threaded loops without I/O agree on an idle machine.
 */
export function cpuMs(): number {
  const { user, system } = process.cpuUsage();
  return (user + system) / 1000;
}

/**
 * Operations per CPU-second of an operation run back to back for about `ms` of CPU time,
 * `concurrency` at a time (the minter signs on the thread pool: under load a server has many
 * mints in flight, and one at a time would measure the thread hand-off, not the work).
 */
export async function opsPerSecond(
  operation: () => Promise<unknown> | unknown,
  ms: number,
  concurrency = 1,
): Promise<number> {
  const step = async () => {
    if (concurrency === 1) await operation();
    else await Promise.all(Array.from({ length: concurrency }, operation));
  };
  for (let i = 0; i < 200; i += concurrency) await step(); // warm up
  let count = 0;
  const started = cpuMs();
  let elapsed = 0;
  while (elapsed < ms) {
    for (let i = 0; i < 100; i += concurrency) await step();
    count += Math.ceil(100 / concurrency) * concurrency;
    elapsed = cpuMs() - started;
  }
  return (count / elapsed) * 1000;
}

/**
 * Runs candidate and baseline alternately for several rounds (the machine is shared and noisy:
 * interleaving exposes both to the same noise) and reports the median of per-round ratios.
 */
export async function interleavedRatio(
  candidate: () => Promise<number>,
  baseline: () => Promise<number>,
  rounds: number,
): Promise<{ candidate: number; baseline: number; ratio: number }> {
  const candidates: number[] = [];
  const baselines: number[] = [];
  const ratios: number[] = [];
  for (let round = 0; round < rounds; round++) {
    const b = await baseline();
    const c = await candidate();
    baselines.push(b);
    candidates.push(c);
    ratios.push(c / b);
  }
  return { candidate: median(candidates), baseline: median(baselines), ratio: median(ratios) };
}

export const round = (value: number, digits = 3) => Number(value.toFixed(digits));
