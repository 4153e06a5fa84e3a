/**
 * Group commit keeps every acknowledgement durable: registrations and ends sent together share
 * one SQLite transaction, and none is answered before its COMMIT. The issuer is killed (SIGKILL,
 * no shutdown of any kind) right after the last answer, and every registration and end it
 * acknowledged is there after a restart on the same data dir.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { type RunningIssuer, type StartedExecution, startIssuer } from './harness.js';

const dirs: string[] = [];
const issuers: RunningIssuer[] = [];
afterAll(async () => {
  for (const issuer of issuers) await issuer.stop();
  for (const dir of dirs) await rm(dir, { recursive: true, force: true });
});

describe('acknowledged writes survive SIGKILL', () => {
  it('finds every acknowledged registration, request token and end after a restart', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'wfid-e2e-kill-'));
    dirs.push(dataDir);
    const first = await startIssuer({ dataDir });
    issuers.push(first);
    const register = (n: number) => first.startExecution({ execution_id: `kill-${n}` });
    const registered = await Promise.all(Array.from({ length: 40 }, (_, n) => register(n)));
    // Ends of the first half, sent together with 40 more registrations.
    const ending = registered.slice(0, 20);
    const [ends, more] = await Promise.all([
      Promise.all(ending.map((execution) => first.endExecution(execution.execution_id, 'error'))),
      Promise.all(Array.from({ length: 40 }, (_, n) => register(40 + n))),
    ]);
    expect(ends.map((response) => response.status)).toEqual(ending.map(() => 200));
    first.process.kill('SIGKILL');
    await new Promise((exited) => first.process.once('exit', exited));

    const second = await startIssuer({ dataDir });
    issuers.push(second);
    const status = async (execution: StartedExecution) => {
      const response = await second.fetch(`/v1/executions/${execution.execution_id}`, {
        headers: { authorization: `Bearer ${second.engineToken}` },
      });
      expect(response.status).toBe(200);
      return ((await response.json()) as { status: string }).status;
    };
    for (const execution of ending) expect(await status(execution)).toBe('error');
    const running = [...registered.slice(20), ...more];
    expect(running).toHaveLength(60);
    for (const execution of running) {
      expect(await status(execution)).toBe('running');
      // Its request token was stored in the same write as the execution.
      expect((await second.mintResponse(execution.request_token, 'vault')).status).toBe(200);
    }
  });
});
