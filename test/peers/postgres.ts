/**
 * A real PostgreSQL server for the store tests, run as a plain process from the Debian
 * package's binaries: initdb into a temp dir, pg_ctl on 127.0.0.1:<free port>, one database.
 * PostgreSQL refuses to run as root, so under root the server runs as `wfidtest`
 * (created by test/peers/install/stores.sh).
 *
 *   const pg = await startPostgres();  pg.url  await pg.stop('immediate')  await pg.restart()
 */

import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { chown, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './net.js';

export interface PostgresPeer {
  /** `postgres://postgres@127.0.0.1:<port>/wfid` */
  readonly url: string;
  readonly port: number;
  /** `fast`: clean shutdown; `immediate`: like a crash (WAL replayed on restart). */
  stop(mode?: 'fast' | 'immediate'): Promise<void>;
  /** Starts again on the same port with the same data. */
  restart(): Promise<void>;
  /** SIGSTOP / SIGCONT every server process: a server that hangs without closing connections. */
  pause(): Promise<void>;
  resume(): Promise<void>;
  /** Stops the server and deletes its data. */
  close(): Promise<void>;
  logs(): Promise<string>;
}

export async function startPostgres(): Promise<PostgresPeer> {
  const bin = postgresBinDir();
  const dir = await mkdtemp(join(tmpdir(), 'wfid-pg-'));
  const data = join(dir, 'data');
  const logFile = join(dir, 'server.log');
  const owner = serverUser();
  if (owner) await chown(dir, owner.uid, owner.gid);
  const port = await freePort();

  const run = (tool: string, args: string[]) => {
    const result = spawnSync(join(bin, tool), args, {
      cwd: dir,
      env: { ...process.env, HOME: dir, LC_ALL: 'C', PGTZ: 'UTC' },
      encoding: 'utf8',
      timeout: 60_000,
      ...(owner ?? {}),
    });
    if (result.status !== 0) {
      throw new Error(
        `postgres peer: ${tool} failed (${result.status}): ${result.stderr || result.error}`,
      );
    }
  };
  const settings = [
    `-p ${port}`,
    '-c listen_addresses=127.0.0.1',
    `-c unix_socket_directories=${dir}`,
    '-c max_connections=60',
    '-c shared_buffers=16MB',
    '-c fsync=on',
  ].join(' ');
  const start = () =>
    run('pg_ctl', ['-D', data, '-l', logFile, '-w', '-t', '60', '-o', settings, 'start']);

  run('initdb', ['-D', data, '-U', 'postgres', '--auth=trust', '-E', 'UTF8', '--no-instructions']);
  start();
  let running = true;
  const crashStop = () => {
    if (running)
      spawnSync(join(bin, 'pg_ctl'), ['-D', data, '-m', 'immediate', 'stop'], owner ?? {});
  };
  process.once('exit', crashStop);
  run('createdb', ['-h', '127.0.0.1', '-p', String(port), '-U', 'postgres', 'wfid']);

  return {
    url: `postgres://postgres@127.0.0.1:${port}/wfid`,
    port,
    async stop(mode = 'fast') {
      run('pg_ctl', ['-D', data, '-m', mode, '-w', 'stop']);
      running = false;
    },
    async restart() {
      start();
      running = true;
    },
    pause: async () => signalServer(data, 'SIGSTOP'),
    resume: async () => signalServer(data, 'SIGCONT'),
    async close() {
      if (running) run('pg_ctl', ['-D', data, '-m', 'fast', '-w', 'stop']);
      running = false;
      process.removeListener('exit', crashStop);
      await rm(dir, { recursive: true, force: true });
    },
    logs: () => readFile(logFile, 'utf8').catch(() => ''),
  };
}

/** Signals the postmaster (first line of postmaster.pid) and all its children. */
async function signalServer(data: string, signal: NodeJS.Signals): Promise<void> {
  const postmaster = Number((await readFile(join(data, 'postmaster.pid'), 'utf8')).split('\n')[0]);
  // Children by parent pid from /proc (no procps needed on a minimal machine).
  const children = readdirSync('/proc')
    .filter((name) => /^\d+$/.test(name))
    .filter((pid) => {
      try {
        const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
        return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) === postmaster;
      } catch {
        return false;
      }
    })
    .map(Number);
  for (const pid of [postmaster, ...children]) process.kill(pid, signal);
}

/** The newest installed major version's bin directory (Debian: /usr/lib/postgresql/<major>/bin). */
function postgresBinDir(): string {
  const root = '/usr/lib/postgresql';
  const majors = existsSync(root)
    ? readdirSync(root)
        .filter((name) => existsSync(join(root, name, 'bin', 'initdb')))
        .sort((a, b) => Number(b) - Number(a))
    : [];
  if (majors.length === 0) {
    throw new Error(
      'postgres peer: no PostgreSQL binaries under /usr/lib/postgresql/*/bin; run test/peers/install/stores.sh',
    );
  }
  return join(root, majors[0]!, 'bin');
}

function serverUser(): { uid: number; gid: number } | undefined {
  if (process.getuid?.() !== 0) return undefined;
  try {
    const uid = Number(execFileSync('id', ['-u', 'wfidtest'], { encoding: 'utf8' }).trim());
    const gid = Number(execFileSync('id', ['-g', 'wfidtest'], { encoding: 'utf8' }).trim());
    return { uid, gid };
  } catch {
    throw new Error(
      'postgres peer: running as root and user wfidtest is missing (PostgreSQL refuses root); run test/peers/install/stores.sh',
    );
  }
}
