/**
 * A real LocalStack (community core) for the AWS KMS tests, run in host mode as a plain Python
 * process on 127.0.0.1 with only KMS enabled and its filesystem in a temp dir. No Docker.
 * Installed into its own venv by test/peers/install/aws-kms.sh (see there why it is pinned).
 *
 * Outages: clients reach LocalStack through a small TCP relay on `port`. `stop()` closes the
 * relay (connections refused, open ones cut) and ends the LocalStack process. LocalStack's
 * community edition keeps KMS state in memory only (PERSISTENCE is a Pro feature), so
 * `start()` launches it again, re-creates the keys made with `restorable: true` (same ARN and
 * key pair, through LocalStack's `_custom_id_` and `_custom_key_material_` tags) and their
 * aliases, and only then opens the relay again: clients see what a real KMS looks like after an
 * outage, never a half-restored one.
 */

/**
 * LocalStack 4.13 derives a key-material id with `uuid.uuid5(namespace, <bytes>)`, which only
 * Python >= 3.12 accepts; on 3.11 every CreateKey with custom key material fails. This
 * sitecustomize (on LocalStack's PYTHONPATH only) gives 3.11 the 3.12 behaviour.
 */
const PY311_SHIM = `import sys, uuid
if sys.version_info < (3, 12):
    import hashlib
    _uuid5 = uuid.uuid5
    def uuid5(namespace, name):
        if isinstance(name, (bytes, bytearray)):
            digest = hashlib.sha1(namespace.bytes + bytes(name)).digest()
            return uuid.UUID(bytes=digest[:16], version=5)
        return _uuid5(namespace, name)
    uuid.uuid5 = uuid5
`;

import { type ChildProcess, spawn } from 'node:child_process';
import { generateKeyPairSync, randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  CreateAliasCommand,
  CreateKeyCommand,
  type CreateKeyCommandInput,
  type KeySpec,
  type KeyUsageType,
  KMSClient,
  type Tag,
} from '@aws-sdk/client-kms';
import { freePort } from './net.js';

export const LOCALSTACK_VERSION = process.env.WFID_LOCALSTACK_VERSION ?? '4.13.1';
/** Static credentials LocalStack accepts; account 000000000000. */
export const LOCALSTACK_AWS_ENV = {
  AWS_ACCESS_KEY_ID: 'test',
  AWS_SECRET_ACCESS_KEY: 'test',
  AWS_REGION: 'us-east-1',
} as const;

export interface LocalStackKey {
  arn: string;
  keyId: string;
}

export interface LocalStack {
  /** The relay clients use (it refuses connections while stopped). */
  port: number;
  /** `http://127.0.0.1:<port>` */
  endpoint: string;
  /** LocalStack's own port, bypassing the relay (benchmarks). */
  directPort: number;
  /** `awskms://127.0.0.1:<port>/<keyId>` */
  uri(keyId: string): string;
  /** Env for a child process (the issuer) to reach this LocalStack with test credentials. */
  env: Record<string, string>;
  /** A raw SDK client on LocalStack itself, not through the relay (test setup, the bench's baseline). */
  kms: KMSClient;
  /**
   * CreateKey outside the issuer, as a security team would. With `restorable`, the key pair
   * and id are chosen here so `start()` brings the same key back after `stop()`.
   */
  createKey(options: {
    keySpec: KeySpec;
    keyUsage?: KeyUsageType;
    tags?: Tag[];
    restorable?: boolean;
  }): Promise<LocalStackKey>;
  /** CreateAlias, remembered so `start()` puts it back. */
  createAlias(alias: string, keyId: string): Promise<void>;
  /** An outage: the relay refuses connections and the process stops (SIGTERM). */
  stop(): Promise<void>;
  /** Back on the same port, with the restorable keys and their aliases (see the module comment). */
  start(): Promise<void>;
  logs(): string;
  /** Stops the process and removes its temp dir. */
  close(): Promise<void>;
}

/** The venv python the install script made, or WFID_LOCALSTACK_PYTHON. */
export function findLocalStackPython(): string {
  const python =
    process.env.WFID_LOCALSTACK_PYTHON ??
    join(
      process.env.WFID_LOCALSTACK_HOME ?? join(homedir(), '.cache/wfid-localstack'),
      `venv-${LOCALSTACK_VERSION}/bin/python`,
    );
  if (!existsSync(python)) {
    throw new Error(
      `LocalStack peer: ${python} not found; run test/peers/install/aws-kms.sh (installs localstack-core ${LOCALSTACK_VERSION} into a venv) or set WFID_LOCALSTACK_PYTHON`,
    );
  }
  return python;
}

/** `services`: LocalStack's SERVICES (default `kms`); the first must become available. */
export async function startLocalStack(services = 'kms'): Promise<LocalStack> {
  const python = findLocalStackPython();
  const dir = await mkdtemp(join(tmpdir(), 'wfid-localstack-'));
  const port = await freePort();
  const directPort = await freePort();
  const endpoint = `http://127.0.0.1:${port}`;
  const kms = new KMSClient({
    endpoint: `http://127.0.0.1:${directPort}`,
    region: LOCALSTACK_AWS_ENV.AWS_REGION,
    credentials: {
      accessKeyId: LOCALSTACK_AWS_ENV.AWS_ACCESS_KEY_ID,
      secretAccessKey: LOCALSTACK_AWS_ENV.AWS_SECRET_ACCESS_KEY,
    },
  });
  const restorable: CreateKeyCommandInput[] = [];
  const aliases: { alias: string; keyId: string }[] = [];
  const relay = new Relay(port, directPort);
  let child: ChildProcess | undefined;
  let output = '';

  const shimDir = join(dir, 'python-shim');
  await mkdir(shimDir);
  await writeFile(join(shimDir, 'sitecustomize.py'), PY311_SHIM);

  const launch = async () => {
    // Only what LocalStack needs: no AWS_* or proxy settings of the caller leak in.
    const env: Record<string, string> = {
      PATH: process.env.PATH ?? '/usr/bin:/bin',
      HOME: dir,
      PYTHONPATH: shimDir,
      GATEWAY_LISTEN: `127.0.0.1:${directPort}`,
      SERVICES: services,
      // Host mode: never take the container code paths, keep every file in our temp dir.
      OVERRIDE_IN_DOCKER: '0',
      FILESYSTEM_ROOT: join(dir, 'filesystem'),
      // Offline and quiet: no DNS server, no certificate download, no analytics.
      DNS_ADDRESS: '0',
      SKIP_SSL_CERT_DOWNLOAD: '1',
      DISABLE_EVENTS: '1',
      EAGER_SERVICE_LOADING: '1',
    };
    const started = spawn(python, ['-m', 'localstack.runtime.main'], {
      cwd: dir,
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child = started;
    started.stdout?.on('data', (chunk) => {
      output += chunk;
    });
    started.stderr?.on('data', (chunk) => {
      output += chunk;
    });
    const deadline = Date.now() + 90_000;
    for (;;) {
      if (started.exitCode !== null) throw new Error(`LocalStack exited at start:\n${output}`);
      const health = await fetch(`http://127.0.0.1:${directPort}/_localstack/health`)
        .then((response) => response.json() as Promise<{ services?: Record<string, string> }>)
        .catch(() => undefined);
      const state = health?.services?.[services.split(',')[0]!];
      if (state === 'available' || state === 'running') return;
      if (Date.now() > deadline)
        throw new Error(`LocalStack peer: ${services} not available in 90 s:\n${output}`);
      await new Promise((resolve) => setTimeout(resolve, 150));
    }
  };

  const stop = async () => {
    await relay.close();
    const running = child;
    child = undefined;
    if (!running || running.exitCode !== null) return;
    const exited = new Promise((resolve) => running.once('exit', resolve));
    running.kill('SIGTERM');
    const timer = setTimeout(() => running.kill('SIGKILL'), 10_000);
    await exited;
    clearTimeout(timer);
  };

  try {
    await launch();
    await relay.open();
  } catch (err) {
    await stop();
    await rm(dir, { recursive: true, force: true });
    throw err;
  }

  return {
    port,
    endpoint,
    directPort,
    uri: (keyId) => `awskms://127.0.0.1:${port}/${keyId}`,
    env: { ...LOCALSTACK_AWS_ENV },
    kms,
    async createKey({ keySpec, keyUsage = 'SIGN_VERIFY', tags = [], restorable: keep = false }) {
      const input: CreateKeyCommandInput = {
        KeySpec: keySpec,
        KeyUsage: keyUsage,
        Tags: [...tags],
      };
      if (keep) {
        input.Tags!.push(
          { TagKey: '_custom_id_', TagValue: randomUUID() },
          { TagKey: '_custom_key_material_', TagValue: privateKeyDer(keySpec) },
        );
        restorable.push(input);
      }
      const out = await kms.send(new CreateKeyCommand(input));
      return { arn: out.KeyMetadata!.Arn!, keyId: out.KeyMetadata!.KeyId! };
    },
    async createAlias(alias, keyId) {
      await kms.send(new CreateAliasCommand({ AliasName: alias, TargetKeyId: keyId }));
      aliases.push({ alias, keyId });
    },
    stop,
    async start() {
      await launch();
      for (const input of restorable) await kms.send(new CreateKeyCommand(input));
      for (const { alias, keyId } of aliases) {
        await kms.send(new CreateAliasCommand({ AliasName: alias, TargetKeyId: keyId }));
      }
      await relay.open();
    },
    logs: () => output,
    close: async () => {
      kms.destroy();
      await stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** Forwards TCP connections from `port` to LocalStack; closed, it refuses them. */
class Relay {
  private server?: Server;
  private readonly sockets = new Set<Socket>();

  constructor(
    private readonly port: number,
    private readonly target: number,
  ) {}

  async open(): Promise<void> {
    const server = createServer((client) => {
      const upstream = connect(this.target, '127.0.0.1');
      for (const socket of [client, upstream]) {
        this.sockets.add(socket);
        socket.on('close', () => this.sockets.delete(socket));
        socket.on('error', () => {
          client.destroy();
          upstream.destroy();
        });
      }
      client.pipe(upstream).pipe(client);
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.port, '127.0.0.1', resolve);
    });
    this.server = server;
  }

  async close(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    for (const socket of this.sockets) socket.destroy();
    if (server) await new Promise((resolve) => server.close(resolve));
  }
}

/** Base64 DER private key in the form LocalStack's custom key material takes (PKCS#8). */
function privateKeyDer(keySpec: KeySpec): string {
  const pair =
    keySpec === 'ECC_NIST_P256'
      ? generateKeyPairSync('ec', { namedCurve: 'P-256' })
      : keySpec === 'ECC_NIST_P384'
        ? generateKeyPairSync('ec', { namedCurve: 'P-384' })
        : generateKeyPairSync('rsa', { modulusLength: Number(keySpec.slice(4)) || 2048 });
  return pair.privateKey.export({ format: 'der', type: 'pkcs8' }).toString('base64');
}
