/**
 * A real Redis server for the store tests: `redis-server` from the Debian package on
 * 127.0.0.1:<free port>, no RDB snapshots, AOF with fsync on every write (the settings the
 * Redis store requires for durable ends).
 *
 *   const redis = await startRedis();  redis.url  await redis.stop('kill')  await redis.restart()
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './net.js';

export interface RedisPeer {
  /** `redis://127.0.0.1:<port>` */
  readonly url: string;
  readonly port: number;
  /** `term`: clean shutdown; `kill`: SIGKILL, like a crash (the AOF is replayed on restart). */
  stop(mode?: 'term' | 'kill'): Promise<void>;
  /** Starts again on the same port with the same data directory. */
  restart(): Promise<void>;
  /** SIGSTOP / SIGCONT: a server that hangs without closing connections. */
  pause(): Promise<void>;
  resume(): Promise<void>;
  close(): Promise<void>;
  logs(): string;
}

export interface RedisOptions {
  /** Extra `--name value` arguments, e.g. `['--appendfsync', 'everysec']`. */
  args?: string[];
}

export async function startRedis(options: RedisOptions = {}): Promise<RedisPeer> {
  if (spawnSync('redis-server', ['--version']).error) {
    throw new Error('redis peer: redis-server not found on PATH; run test/peers/install/stores.sh');
  }
  const dir = await mkdtemp(join(tmpdir(), 'wfid-redis-'));
  const port = await freePort();
  const args = [
    '--port',
    String(port),
    '--bind',
    '127.0.0.1',
    '--save',
    '',
    '--appendonly',
    'yes',
    '--appendfsync',
    'always',
    '--dir',
    dir,
    ...(options.args ?? []),
  ];
  let child: ChildProcess | undefined;
  let output = '';

  const start = () =>
    new Promise<void>((resolve, reject) => {
      const proc = spawn('redis-server', args, { stdio: ['ignore', 'pipe', 'pipe'] });
      child = proc;
      const timer = setTimeout(
        () => reject(new Error(`redis peer: not ready after 30s\n${output}`)),
        30_000,
      );
      const onData = (chunk: Buffer) => {
        output += chunk.toString();
        if (/Ready to accept connections/.test(output.slice(-4096))) {
          clearTimeout(timer);
          resolve();
        }
      };
      proc.stdout!.on('data', onData);
      proc.stderr!.on('data', onData);
      proc.once('exit', (code) => {
        clearTimeout(timer);
        if (child === proc) child = undefined;
        reject(new Error(`redis peer: exited with ${code}\n${output}`));
      });
    });
  const stop = async (mode: 'term' | 'kill' = 'term') => {
    const proc = child;
    if (!proc) return;
    const exited = new Promise((resolve) => proc.once('exit', resolve));
    proc.kill(mode === 'kill' ? 'SIGKILL' : 'SIGTERM');
    await exited;
  };
  const onExit = () => child?.kill('SIGKILL');
  process.once('exit', onExit);

  await start();
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    stop,
    async restart() {
      output += '\n--- restart ---\n';
      await start();
    },
    pause: async () => void child?.kill('SIGSTOP'),
    resume: async () => void child?.kill('SIGCONT'),
    async close() {
      await stop('term');
      process.removeListener('exit', onExit);
      await rm(dir, { recursive: true, force: true });
    },
    logs: () => output,
  };
}
