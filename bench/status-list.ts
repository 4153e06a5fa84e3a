/**
 * Bytes of a Status List (issue 16): the zlib-compressed bit array a verifier downloads, for
 * 1,048,576 entries with 1% VALID (running), and for the default list size of 65,536. Two
 * placements: scattered over the whole list at random (the worst case for compression), and
 * scattered over its newest 6.25% (1/16), as entries are handed out in registration order and running
 * executions are mostly recent ones. Also the CPU time of one level-9 compression, which a
 * replica pays per list and second at most.
 */
import { performance } from 'node:perf_hooks';
import { deflateSync } from 'node:zlib';
import { encodeStatusBits } from '../src/tokens/status-bits.js';
import { median } from './stats.js';

/** A deterministic generator, so every run measures the same lists. */
function random(seed: number): () => number {
  let state = seed;
  return () => {
    state = (state * 1_103_515_245 + 12_345) % 2 ** 31;
    return state / 2 ** 31;
  };
}

/** `count` distinct entries at random among the last `span` of a list of `size`. */
function scattered(size: number, count: number, span = size): Set<number> {
  const next = random(16);
  const picked = new Set<number>();
  while (picked.size < count) picked.add(size - span + Math.floor(next() * span));
  return picked;
}

function compressed(size: number, valid: Iterable<number>): { bytes: number; ms: number } {
  const bits = encodeStatusBits(size, valid);
  const times: number[] = [];
  let bytes = 0;
  for (let round = 0; round < 5; round++) {
    const started = performance.now();
    bytes = deflateSync(bits, { level: 9 }).length;
    times.push(performance.now() - started);
  }
  return { bytes, ms: Math.round(median(times) * 100) / 100 };
}

export async function benchStatusList(): Promise<Record<string, number>> {
  const million = 1_048_576;
  const small = 65_536;
  const millionScattered = compressed(million, scattered(million, Math.floor(million / 100)));
  const millionRecent = compressed(
    million,
    scattered(million, Math.floor(million / 100), million / 16),
  );
  const smallScattered = compressed(small, scattered(small, Math.floor(small / 100)));
  return {
    status_list_1m_1pct_scattered_bytes: millionScattered.bytes,
    status_list_1m_1pct_recent_bytes: millionRecent.bytes,
    status_list_1m_all_ended_bytes: compressed(million, []).bytes,
    status_list_1m_1pct_scattered_deflate_ms: millionScattered.ms,
    status_list_65k_1pct_scattered_bytes: smallScattered.bytes,
    status_list_65k_1pct_scattered_deflate_ms: smallScattered.ms,
  };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  console.log(JSON.stringify(await benchStatusList()));
}
