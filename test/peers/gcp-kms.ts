/**
 * Starts the Cloud KMS stand-in (test/peers/gcp-kms-server.ts) as its own process on
 * 127.0.0.1:<free port> and drives its test hooks over IPC. The client side reaches it the
 * way the backend does in tests: `apiEndpoint`, `port`, insecure gRPC credentials.
 *
 *   const kms = await startGcpKms();
 *   const key = await kms.createCryptoKey('EC_SIGN_P256_SHA256');   // full CryptoKey name
 *   await kms.fault({ kind: 'status', code: 'UNAVAILABLE' }, { method: 'AsymmetricSign', times: 3 });
 *   await kms.stop(); await kms.start(); await kms.close();
 */
import { type ChildProcess, fork } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import type { KeyManagementServiceClient } from '@google-cloud/kms';
import type { Fault, PeerControl } from './gcp-kms-faults.js';

export type { Fault } from './gcp-kms-faults.js';

export interface GcpKmsPeer {
  readonly host: '127.0.0.1';
  readonly port: number;
  /** Env for a `wfid serve` process that should use this server. */
  readonly env: Record<string, string>;
  /** A client of the real SDK pointed at this server, for setting keys up as a security team would. */
  client(): KeyManagementServiceClient;
  /** Creates a key ring (once per location) and an ASYMMETRIC_SIGN CryptoKey; waits for version 1. */
  createCryptoKey(algorithm: string, options?: { skipInitialVersion?: boolean }): Promise<string>;
  fault(fault: Fault, options?: { method?: string; times?: number }): Promise<void>;
  clearFaults(): Promise<void>;
  /** How many calls of an RPC method (e.g. 'AsymmetricSign') the server has received. */
  calls(method: string): Promise<number>;
  /** How long new versions stay PENDING_GENERATION. */
  setGenerationDelay(ms: number): Promise<void>;
  /** Closes the listener (cutting connections); keys stay. */
  stop(): Promise<void>;
  /** Listens again on the same port. */
  start(): Promise<void>;
  close(): Promise<void>;
}

const SERVER = fileURLToPath(new URL('./gcp-kms-server.ts', import.meta.url));
export const TEST_PROJECT_LOCATION = 'projects/wfid-test/locations/us-east1';

export async function startGcpKms(): Promise<GcpKmsPeer> {
  const child = fork(SERVER, ['--port', '0'], {
    execArgv: ['--import', 'tsx'],
    stdio: ['ignore', 'inherit', 'pipe', 'ipc'],
  });
  let stderr = '';
  child.stderr!.on('data', (chunk) => {
    stderr += chunk;
  });
  const port = await waitReady(child, () => stderr);
  const call = controller(child);
  const keyRing = `${TEST_PROJECT_LOCATION}/keyRings/ring-${randomBytes(4).toString('hex')}`;
  let ringCreated = false;
  let sdkClient: KeyManagementServiceClient | undefined;

  const peer: GcpKmsPeer = {
    host: '127.0.0.1',
    port,
    env: {
      WFID_GCP_KMS_API_ENDPOINT: '127.0.0.1',
      WFID_GCP_KMS_PORT: String(port),
      WFID_GCP_KMS_INSECURE: 'true',
      METADATA_SERVER_DETECTION: 'none',
    },
    client() {
      sdkClient ??= testClient(port);
      return sdkClient;
    },
    async createCryptoKey(algorithm, options = {}) {
      const client = peer.client();
      if (!ringCreated) {
        const [parent, id] = [keyRing.replace(/\/keyRings\/.*/, ''), keyRing.split('/').at(-1)!];
        await client.createKeyRing({ parent, keyRingId: id, keyRing: {} });
        ringCreated = true;
      }
      const [key] = await client.createCryptoKey({
        parent: keyRing,
        cryptoKeyId: `key-${randomBytes(4).toString('hex')}`,
        cryptoKey: {
          purpose: 'ASYMMETRIC_SIGN',
          versionTemplate: { algorithm: algorithm as never },
        },
        skipInitialVersionCreation: options.skipInitialVersion ?? false,
      });
      if (!options.skipInitialVersion) await waitEnabled(client, `${key.name}/cryptoKeyVersions/1`);
      return key.name!;
    },
    fault: async (fault, options = {}) => void (await call({ op: 'fault', fault, ...options })),
    clearFaults: async () => void (await call({ op: 'clearFaults' })),
    calls: async (method) => (await call({ op: 'calls', method })) as number,
    setGenerationDelay: async (ms) => void (await call({ op: 'generationDelay', ms })),
    stop: async () => void (await call({ op: 'stop' })),
    start: async () => void (await call({ op: 'start' })),
    async close() {
      await sdkClient?.close();
      if (child.exitCode === null) {
        const exited = new Promise((resolve) => child.once('exit', resolve));
        child.kill('SIGTERM');
        await exited;
      }
    },
  };
  return peer;
}

/** A KeyManagementServiceClient on plaintext gRPC to the peer, without looking for credentials. */
export function testClient(port: number): KeyManagementServiceClient {
  const require = createRequire(import.meta.url);
  const { KeyManagementServiceClient } =
    require('@google-cloud/kms') as typeof import('@google-cloud/kms');
  const gax = require(
    require.resolve('google-gax', { paths: [require.resolve('@google-cloud/kms')] }),
  );
  return new KeyManagementServiceClient({
    apiEndpoint: '127.0.0.1',
    port,
    sslCreds: gax.grpc.credentials.createInsecure(),
    universeDomain: 'googleapis.com',
  });
}

export async function waitEnabled(client: KeyManagementServiceClient, name: string): Promise<void> {
  for (let i = 0; i < 600; i++) {
    const [version] = await client.getCryptoKeyVersion({ name });
    if (version.state === 'ENABLED') return;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  throw new Error(`gcp-kms peer: ${name} never became ENABLED`);
}

function waitReady(child: ChildProcess, stderr: () => string): Promise<number> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => fail('did not start within 30s'), 30_000);
    const fail = (why: string) => {
      clearTimeout(timer);
      child.kill('SIGKILL');
      reject(new Error(`gcp-kms peer (${SERVER}) ${why}\n${stderr()}`));
    };
    child.once('exit', (code) => fail(`exited with ${code} before listening`));
    child.once('message', (message: { ready?: boolean; port?: number }) => {
      clearTimeout(timer);
      child.removeAllListeners('exit');
      if (message.ready && message.port) resolve(message.port);
      else fail(`sent ${JSON.stringify(message)} instead of ready`);
    });
  });
}

function controller(child: ChildProcess): (message: PeerControl) => Promise<unknown> {
  let nextId = 1;
  const pending = new Map<
    number,
    { resolve: (value: unknown) => void; reject: (err: Error) => void }
  >();
  child.on('message', (reply: { id: number; result?: unknown; error?: string }) => {
    const waiter = pending.get(reply.id);
    pending.delete(reply.id);
    if (reply.error) waiter?.reject(new Error(`gcp-kms peer: ${reply.error}`));
    else waiter?.resolve(reply.result);
  });
  return (message) =>
    new Promise((resolve, reject) => {
      const id = nextId++;
      pending.set(id, { resolve, reject });
      child.send({ ...message, id });
    });
}
