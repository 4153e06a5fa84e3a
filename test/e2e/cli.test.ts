import { execFile, spawn } from 'node:child_process';
import { mkdir, mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningIssuer, startIssuer, until } from './harness.js';

const ROOT = resolve(import.meta.dirname, '../..');
const TSX = pathToFileURL(join(ROOT, 'node_modules/tsx/dist/loader.mjs')).href;
const ADMIN_TOKEN = `wfa_cli_${'0123456789'.repeat(4)}`;

async function wfid(args: string[], env: Record<string, string>, cwd: string) {
  try {
    const { stdout, stderr } = await promisify(execFile)(
      process.execPath,
      ['--import', TSX, join(ROOT, 'src/cli/main.ts'), ...args],
      {
        cwd,
        env: { PATH: process.env.PATH ?? '', ...env },
      },
    );
    return { code: 0, stdout, stderr };
  } catch (err) {
    const failed = err as { code: number; stdout: string; stderr: string };
    return { code: failed.code, stdout: failed.stdout, stderr: failed.stderr };
  }
}

describe('wfid CLI', () => {
  let dir: string;
  let issuer: RunningIssuer;
  let env: Record<string, string>;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'wfid-cli-'));
    issuer = await startIssuer({
      dataDir: dir,
      env: { WFID_ADMIN_TOKEN: ADMIN_TOKEN, WFID_AUDIT_FLUSH_INTERVAL: '100ms' },
    });
    env = {
      WFID_DATA_DIR: dir,
      WFID_ISSUER: issuer.url,
      WFID_ENGINE_TOKEN: issuer.engineToken,
      WFID_ADMIN_TOKEN: ADMIN_TOKEN,
    };
  });
  afterAll(async () => {
    await issuer?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it('init writes a starter config that loads, and refuses to overwrite it', async () => {
    const output = join(dir, 'starter.yaml');
    expect((await wfid(['init', '-o', output], {}, dir)).code).toBe(0);
    expect(await readFile(output, 'utf8')).toContain('rotation:');
    const again = await wfid(['init', '-o', output], {}, dir);
    expect(again.code).toBe(1);
    expect(again.stderr).toContain('ERR_CONFIG');
    const keys = await wfid(
      ['--config', output, 'keys', 'list', '--json'],
      { WFID_DATA_DIR: join(dir, 'other') },
      dir,
    );
    expect(keys.code).toBe(0);
  });

  it('keys list and jwks in a shell without the server settings make no key and say what they describe', async () => {
    const elsewhere = join(dir, 'second-shell');
    await mkdir(elsewhere);
    const listed = await wfid(['keys', 'list', '--json'], {}, elsewhere);
    expect(listed.code).toBe(0);
    expect(JSON.parse(listed.stdout)).toEqual([]);
    expect(listed.stderr).toContain('keys of file://./data/keys');
    expect(listed.stderr).toContain('issuer http://127.0.0.1:8080');
    expect(listed.stderr).toContain('no key versions');
    // Opening the default SQLite store makes ./data/wfid.db; no key directory, no key.
    await expect(readdir(join(elsewhere, 'data'))).resolves.not.toContain('keys');
    // Next to the issuer's store but with another key URI: refused before anything is written.
    const otherBackend = await wfid(
      ['keys', 'list'],
      { WFID_DATA_DIR: dir, WFID_KEYS: `file://${join(elsewhere, 'keys')}` },
      elsewhere,
    );
    expect(otherBackend.code).toBe(1);
    expect(otherBackend.stderr).toContain('holds none of them');
    expect(otherBackend.stderr).toContain('[ERR_CONFIG]');
    const states = JSON.parse((await wfid(['keys', 'list', '--json'], env, dir)).stdout);
    expect(states.some((row: { state: string }) => row.state === 'active')).toBe(true);
    // jwks prints what the running issuer publishes, and says which issuer that is.
    const published = await wfid(['jwks', '--url', issuer.url], {}, elsewhere);
    expect(published.stderr).toContain(`${issuer.url}/.well-known/jwks.json`);
    expect(JSON.parse(published.stdout)).toEqual(
      await (await issuer.fetch('/.well-known/jwks.json')).json(),
    );
    await expect(readdir(join(elsewhere, 'data'))).resolves.not.toContain('keys');
  });

  it('keys rotate says when the running issuer publishes the new version; activate says why it cannot yet', async () => {
    const rotated = await wfid(['keys', 'rotate'], env, dir);
    expect(rotated.code).toBe(0);
    const created = JSON.parse(rotated.stdout) as Record<string, unknown>;
    // The running issuer holds the rotation lease: it records the version at its next listing.
    expect(created).toMatchObject({ state: 'unrecorded', published_within_s: 60 });
    expect(String(created.next)).toContain('keys.refresh');
    const early = await wfid(['keys', 'activate', String(created.kid), '--force'], env, dir);
    expect(early.code).toBe(1);
    expect(early.stderr).toContain('has not recorded it yet');
    expect(early.stderr).toContain('ERR_KEY_NOT_FOUND');
  });

  it('takes a kid that begins with "-" as a kid: not an unknown option, and "-y…" is not --yes', async () => {
    const unknown = await wfid(
      ['keys', 'retire', '-zwpRmYhXEAjXidi0iqZ6BP-b2suufSKWK0oQxcKaY4', '--now', '--yes'],
      env,
      dir,
    );
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toContain('ERR_KEY_NOT_FOUND');
    const unconfirmed = await wfid(
      ['keys', 'retire', '-yAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA', '--now'],
      env,
      dir,
    );
    expect(unconfirmed.code).toBe(1);
    expect(unconfirmed.stderr).toContain('confirmation required');
  });

  it('labels an issuer answer by its error: 401 unauthorized is not a bad request', async () => {
    const refused = await wfid(
      ['execution', 'start', '--execution-id', 'x', '--workflow-id', 'w'],
      { ...env, WFID_ENGINE_TOKEN: 'not-the-engine-token-of-this-issuer-0123456789' },
      dir,
    );
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain('401 unauthorized');
    expect(refused.stderr).toContain('[ERR_UNAUTHORIZED]');
    // A 503 (an issuer whose backend is away) is the issuer being unavailable, with its Retry-After.
    const unavailable = createServer((_request, response) => {
      response.writeHead(503, { 'content-type': 'application/json', 'retry-after': '5' });
      response.end('{"error":"temporarily_unavailable","error_description":"key backend away"}');
    });
    await new Promise<void>((done) => unavailable.listen(0, '127.0.0.1', done));
    const { port } = unavailable.address() as AddressInfo;
    const answered = await wfid(
      ['execution', 'start', '--execution-id', 'x', '--workflow-id', 'w'],
      { ...env, WFID_ISSUER: `http://127.0.0.1:${port}` },
      dir,
    );
    unavailable.close();
    expect(answered.code).toBe(1);
    expect(answered.stderr).toContain(
      '503 temporarily_unavailable: key backend away (retry after 5 s)',
    );
    expect(answered.stderr).toContain('[ERR_BACKEND_UNAVAILABLE]');
    expect(answered.stderr).not.toContain('ERR_INVALID_REQUEST');
  });

  it('execution start/end and token decode talk to the running server', async () => {
    const started = await wfid(
      ['execution', 'start', '--execution-id', 'cli-1', '--workflow-id', 'wf-cli', '--env'],
      env,
      dir,
    );
    expect(started.code).toBe(0);
    const token = /WORKFLOW_ID_TOKEN='([^']+)'/.exec(started.stdout)![1]!;
    const decoded = JSON.parse((await wfid(['token', 'decode', token], env, dir)).stdout);
    expect(decoded.payload).toMatchObject({ execution_id: 'cli-1', workflow_id: 'wf-cli' });
    const verify = [
      'token',
      'verify',
      token,
      '--issuer',
      issuer.url,
      '--audience',
      issuer.url,
      '--require-running',
    ];
    const verified = await wfid(verify, env, dir);
    expect(verified.code).toBe(0);
    const viaStatusList = [...verify.slice(0, -1), '--status-list'];
    expect((await wfid(viaStatusList, env, dir)).code).toBe(0);
    expect(JSON.parse(verified.stdout)).toMatchObject({
      valid: true,
      payload: { execution_id: 'cli-1' },
    });
    const wrongAudience = await wfid(
      ['token', 'verify', token, '--issuer', issuer.url, '--audience', 'other'],
      env,
      dir,
    );
    expect(wrongAudience.code).toBe(1);
    expect(wrongAudience.stderr).toContain('ERR_JWT_CLAIM_INVALID');
    const ended = await wfid(['execution', 'end', 'cli-1', '--status', 'canceled'], env, dir);
    expect(JSON.parse(ended.stdout)).toMatchObject({ status: 'canceled' });
    const afterEnd = await wfid(verify, env, dir);
    expect(afterEnd.code).toBe(1);
    expect(afterEnd.stderr).toContain('ERR_EXECUTION_NOT_RUNNING');
    // The server may serve a list built in the second before the end: ask until one after it.
    let listed = await wfid(viaStatusList, env, dir);
    await until(async () => {
      listed = await wfid(viaStatusList, env, dir);
      return listed.code !== 0;
    });
    expect(listed.stderr).toContain('ERR_EXECUTION_NOT_RUNNING');
  });

  it('keys list shows the active key; retire --now needs confirmation, then the key leaves the JWKS', async () => {
    const listed = JSON.parse((await wfid(['keys', 'list', '--json'], env, dir)).stdout) as {
      kid: string;
      state: string;
    }[];
    const active = listed.find((row) => row.state === 'active')!;
    expect(active).toBeDefined();
    const refused = await wfid(['keys', 'retire', active.kid, '--now'], env, dir);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain('confirmation required');
    const retired = await wfid(['keys', 'retire', active.kid, '--now', '--yes'], env, dir);
    expect(retired.code).toBe(0);
    expect(JSON.parse(retired.stdout)).toMatchObject({ kid: active.kid, state: 'retired' });
    // The running server re-reads key states every 2 seconds: the key leaves its JWKS and a
    // new key signs, without waiting for the next backend listing.
    const deadline = Date.now() + 10_000;
    let kids: string[] = [active.kid];
    while (kids.includes(active.kid) || kids.length === 0) {
      expect(Date.now()).toBeLessThan(deadline);
      await new Promise((done) => setTimeout(done, 250));
      kids = (
        (await (await issuer.fetch('/.well-known/jwks.json')).json()) as { keys: { kid: string }[] }
      ).keys.map((key) => key.kid);
    }
    const execution = await issuer.startExecution();
    const token = await issuer.mint(execution.request_token, 'after-retire');
    const header = JSON.parse(Buffer.from(token.value.split('.')[0]!, 'base64url').toString());
    expect(header.kid).not.toBe(active.kid);
    expect(kids).toContain(header.kid);
  });

  it('audit prints the trail as a table or JSON lines, with filters, including key changes made by the CLI', async () => {
    const lines = async (args: string[]) => {
      const result = await wfid(['audit', '--json', ...args], env, dir);
      expect(result.code).toBe(0);
      return result.stdout
        .trim()
        .split('\n')
        .filter(Boolean)
        .map((line) => JSON.parse(line) as Record<string, string>);
    };
    await until(async () =>
      (await lines(['--workflow-id', 'wf-cli'])).some((event) => event.kind === 'execution.ended'),
    );
    const events = await lines(['--workflow-id', 'wf-cli']);
    expect(events.map((event) => event.kind)).toEqual([
      'execution.registered',
      'token.minted',
      'token.introspected',
      'execution.ended',
      'token.introspected',
    ]);
    expect(events.slice(2).map((event) => event.outcome)).toEqual([
      'active',
      'canceled',
      'inactive',
    ]);
    expect(events.at(-1)).toMatchObject({ execution_id: 'cli-1', reason: 'execution_ended' });
    // `keys retire --now` ran in the CLI process: its own trail wrote the change.
    const retired = await lines(['--kind', 'key.retired']);
    expect(retired[0]).toMatchObject({
      kind: 'key.retired',
      outcome: 'retired',
      reason: 'operator',
    });
    // A kid filter that begins with "-" is the option's value, not an option of its own.
    expect(await lines(['--kid', `-${'A'.repeat(42)}`])).toEqual([]);
    const table = await wfid(
      ['audit', '--workflow-id', 'wf-cli', '--kind', 'token.minted'],
      env,
      dir,
    );
    const [header, ...rows] = table.stdout.trim().split('\n');
    expect(header).toMatch(/^TIME\s+KIND\s+OUTCOME/);
    expect(rows).toHaveLength(1);
    expect(rows[0]).toContain('token.minted');
    const refused = await wfid(
      ['audit'],
      { ...env, WFID_ADMIN_TOKEN: `${issuer.engineToken}x` },
      dir,
    );
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain('401');
  });

  it('audit --follow prints events recorded after it started', async () => {
    const child = spawn(
      process.execPath,
      [
        '--import',
        TSX,
        join(ROOT, 'src/cli/main.ts'),
        'audit',
        '--follow',
        '--workflow-id',
        'wf-follow',
        '--interval',
        '0.2',
      ],
      {
        cwd: dir,
        env: { PATH: process.env.PATH ?? '', ...env },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let output = '';
    let errors = '';
    child.stdout.on('data', (chunk) => (output += chunk));
    child.stderr.on('data', (chunk) => (errors += chunk));
    const wrote = (err: Error) => {
      throw new Error(`${err.message}; wfid audit wrote ${output}${errors}`);
    };
    try {
      // The header is printed once the command has fixed its starting point (now).
      await until(async () => output.startsWith('TIME')).catch(wrote);
      const started = await issuer.startExecution({ workflow_id: 'wf-follow' });
      await until(async () => output.includes('token.minted')).catch(wrote);
      const rows = output.trim().split('\n').slice(1);
      expect(rows.map((line) => line.split(/\s+/)[1])).toEqual([
        'execution.registered',
        'token.minted',
      ]);
      expect(rows.every((line) => line.includes(started.execution_id))).toBe(true);
    } finally {
      child.kill('SIGTERM');
    }
  });
});
