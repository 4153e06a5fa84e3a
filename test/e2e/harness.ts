/**
 * Starts the real `wfid serve` process (through tsx, so tests need no build) on a free
 * loopback port with its own data dir, and talks to it over HTTP as an engine and an
 * execution would.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { freePort, until } from '../peers/net.js';

/** For the e2e and n8n tests that take them from here. */
export { freePort, until };

const ROOT = resolve(import.meta.dirname, '../..');
/** tsx by absolute URL: the issuer runs with its data dir as cwd, where `tsx` would not resolve. */
const TSX = pathToFileURL(join(ROOT, 'node_modules/tsx/dist/loader.mjs')).href;

export interface StartedExecution {
  execution_id: string;
  status: string;
  request_token: string;
  request_url: string;
  env: Record<string, string>;
}

export interface RunningIssuer {
  url: string;
  engineToken: string;
  dataDir: string;
  process: ChildProcess;
  logs(): string;
  stop(): Promise<void>;
  /** POST /v1/executions; fills execution_id and workflow_id when absent. Throws on non-2xx. */
  startExecution(body?: Record<string, unknown>): Promise<StartedExecution>;
  /** POST /v1/executions with exactly `body`, the raw answer (for repeats and error cases). */
  registerResponse(body: Record<string, unknown>): Promise<Response>;
  endExecution(executionId: string, status?: string): Promise<Response>;
  /** POST /v1/token with the request token, the raw answer (for error cases). */
  mintResponse(requestToken: string, audience: string | string[]): Promise<Response>;
  /** The kids the JWKS serves now. */
  jwksKids(): Promise<string[]>;
  /** POST /v1/token with the request token. Throws on non-2xx. */
  mint(
    requestToken: string,
    audience: string | string[],
    lifetimeS?: number,
  ): Promise<{ value: string; expires_at: number }>;
  /** Raw fetch against the issuer. */
  fetch(path: string, init?: RequestInit): Promise<Response>;
}

export interface StartOptions {
  env?: Record<string, string>;
  /** Reuse a data dir (restart tests); a fresh temp dir otherwise. */
  dataDir?: string;
  /** Wait until /readyz answers 200 (default true). */
  waitReady?: boolean;
  timeoutMs?: number;
}

let counter = 0;

export async function startIssuer(options: StartOptions = {}): Promise<RunningIssuer> {
  const port = await freePort();
  const ownDir = options.dataDir === undefined;
  const dataDir = options.dataDir ?? (await mkdtemp(join(tmpdir(), 'wfid-e2e-')));
  const url = `http://127.0.0.1:${port}`;
  const engineToken = `wfe_test_${randomBytes(24).toString('base64url')}`;
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? '',
    HOME: process.env.HOME ?? '',
    WFID_ISSUER: url,
    WFID_HOST: '127.0.0.1',
    WFID_PORT: String(port),
    WFID_DATA_DIR: dataDir,
    WFID_ENGINE_TOKEN: engineToken,
    WFID_LOG_LEVEL: 'info',
    ...options.env,
  };
  const child = spawn(process.execPath, ['--import', TSX, join(ROOT, 'src/cli/main.ts'), 'serve'], {
    cwd: dataDir,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout!.on('data', (chunk) => (output += chunk));
  child.stderr!.on('data', (chunk) => (output += chunk));
  const exited = new Promise<number | null>((done) => child.once('exit', (code) => done(code)));

  const call = (path: string, init?: RequestInit) => fetch(`${url}${path}`, init);
  const json = async <T>(response: Response): Promise<T> => {
    const body = await response.json();
    if (!response.ok) throw new Error(`${response.status} ${JSON.stringify(body)}`);
    return body as T;
  };

  const issuer: RunningIssuer = {
    url,
    engineToken: env.WFID_ENGINE_TOKEN!,
    dataDir,
    process: child,
    logs: () => output,
    async stop() {
      if (child.exitCode === null) {
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
        await exited;
        clearTimeout(timer);
      }
      if (ownDir) await rm(dataDir, { recursive: true, force: true });
    },
    registerResponse(body) {
      return call('/v1/executions', {
        method: 'POST',
        headers: {
          authorization: `Bearer ${issuer.engineToken}`,
          'content-type': 'application/json',
        },
        body: JSON.stringify(body),
      });
    },
    async startExecution(body = {}) {
      const response = await issuer.registerResponse({
        execution_id: `exec-${Date.now()}-${++counter}`,
        workflow_id: 'wf-1',
        ...body,
      });
      return json<StartedExecution>(response);
    },
    endExecution(executionId, status = 'success') {
      return call(`/v1/executions/${encodeURIComponent(executionId)}/end`, {
        method: 'POST',
        headers: {
          authorization: `Bearer ${issuer.engineToken}`,
          'content-type': 'application/json',
        },
        body: JSON.stringify({ status }),
      });
    },
    mintResponse(requestToken, audience) {
      return call('/v1/token', {
        method: 'POST',
        headers: { authorization: `Bearer ${requestToken}`, 'content-type': 'application/json' },
        body: JSON.stringify({ audience }),
      });
    },
    async jwksKids() {
      const body = (await (await call('/.well-known/jwks.json')).json()) as {
        keys: { kid: string }[];
      };
      return body.keys.map((key) => key.kid);
    },
    async mint(requestToken, audience, lifetimeS) {
      const response = await call('/v1/token', {
        method: 'POST',
        headers: { authorization: `Bearer ${requestToken}`, 'content-type': 'application/json' },
        body: JSON.stringify({ audience, lifetime_s: lifetimeS }),
      });
      return json(response);
    },
    fetch: call,
  };

  const deadline = Date.now() + (options.timeoutMs ?? 60_000);
  for (;;) {
    if (child.exitCode !== null) {
      if (ownDir) await rm(dataDir, { recursive: true, force: true });
      throw new Error(`wfid serve exited with ${child.exitCode}:\n${output}`);
    }
    try {
      const response = await call(options.waitReady === false ? '/healthz' : '/readyz');
      if (response.ok) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      await issuer.stop();
      throw new Error(`wfid serve did not become ready in time:\n${output}`);
    }
    await new Promise((done) => setTimeout(done, 100));
  }
  return issuer;
}
