import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { mintRequest, startBenchIssuer } from './http.js';
import { measure, warmUp } from './load.js';
import { median, round } from './stats.js';

const ROUNDS = 5;

/**
 * POST /v1/token with the audit trail on (every mint is an event, written in batches to the
 * SQLite store) against the same server with `audit.enabled: false`, rounds interleaved.
 * Throughput is per CPU-second of the server, so batch writes are counted where they run.
 */
export async function benchAudit(): Promise<Record<string, number>> {
  const keys = await mkdtemp(join(tmpdir(), 'wfid-bench-audit-keys-'));
  // One key for both, so both sign with the same algorithm and key.
  const shared = { WFID_KEYS: `file://${keys}` };
  const withAudit = await startBenchIssuer(shared);
  const without = await startBenchIssuer({ ...shared, WFID_AUDIT_ENABLED: 'false' });
  try {
    await warmUp(mintRequest(without));
    await warmUp(mintRequest(withAudit));
    const ratio = { cpu: [] as number[], wall: [] as number[] };
    const perSecond = { on: [] as number[], off: [] as number[] };
    for (let round = 0; round < ROUNDS; round++) {
      const off = await measure(without.pid, mintRequest(without));
      const on = await measure(withAudit.pid, mintRequest(withAudit));
      ratio.cpu.push(on.perCpuSecond / off.perCpuSecond);
      ratio.wall.push(on.perWallSecond / off.perWallSecond);
      perSecond.on.push(on.perWallSecond);
      perSecond.off.push(off.perWallSecond);
    }
    return {
      http_token_audit_per_s: Math.round(median(perSecond.on)),
      http_token_no_audit_per_s: Math.round(median(perSecond.off)),
      http_token_audit_vs_no_audit: round(median(ratio.cpu)),
      http_token_audit_vs_no_audit_wall: round(median(ratio.wall)),
    };
  } finally {
    await withAudit.stop();
    await without.stop();
    await rm(keys, { recursive: true, force: true });
  }
}
