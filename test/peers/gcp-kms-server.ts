/**
 * A Cloud KMS stand-in for tests (no emulator exists): a gRPC server that loads the real
 * `google.cloud.kms.v1.KeyManagementService` definition from the protos @google-cloud/kms
 * ships, keeps key rings, keys and versions in memory and signs with node:crypto. It answers
 * as our reading of the API says Cloud KMS does: DER ECDSA signatures over the digest sent,
 * CRC32C fields as Int64Value, sequential version names, PENDING_GENERATION before ENABLED,
 * FAILED_PRECONDITION for versions that are not enabled, NOT_FOUND, PERMISSION_DENIED naming
 * the IAM permission.
 *
 * Run as its own process by test/peers/gcp-kms.ts, which drives the test hooks (faults,
 * corrupted fields, stop/start) over the IPC channel. Run by hand: `tsx <this file> --port N`.
 */
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { crc32c } from '../../backends/gcp-kms/crc32c.js';
import { FaultInjector, type Message, type PeerControl, RpcError } from './gcp-kms-faults.js';
import { checkCurveOrders } from './gcp-kms-keys.js';
import { KmsState } from './gcp-kms-state.js';

/** Both proto roots: KMS's own, and google-gax's copy of the common protos (api, rpc, type). */
function protoIncludeDirs(): string[] {
  const require = createRequire(import.meta.url);
  const kms = dirname(require.resolve('@google-cloud/kms/package.json'));
  const gax = require.resolve('google-gax', { paths: [kms] });
  return [join(kms, 'build', 'protos'), join(dirname(gax), '..', 'protos')];
}

function loadService(): grpc.ServiceDefinition {
  const definition = protoLoader.loadSync('google/cloud/kms/v1/service.proto', {
    includeDirs: protoIncludeDirs(),
    keepCase: false,
    longs: String,
    enums: String,
    defaults: true,
    oneofs: true,
  });
  const loaded = grpc.loadPackageDefinition(definition) as unknown as {
    google: {
      cloud: { kms: { v1: { KeyManagementService: { service: grpc.ServiceDefinition } } } };
    };
  };
  return loaded.google.cloud.kms.v1.KeyManagementService.service;
}

type Handler = (request: Message) => Promise<Record<string, unknown>> | Record<string, unknown>;

/** Wraps each RPC with the fault hooks; methods not listed answer UNIMPLEMENTED (grpc-js default). */
function implementation(state: KmsState, faults: FaultInjector): grpc.UntypedServiceImplementation {
  const handlers: Record<string, Handler> = {
    CreateKeyRing: (r) => state.createKeyRing(r.parent, r.keyRingId),
    GetKeyRing: (r) => state.getKeyRing(r.name),
    CreateCryptoKey: (r) =>
      state.createCryptoKey(
        r.parent,
        r.cryptoKeyId,
        r.cryptoKey ?? {},
        r.skipInitialVersionCreation,
      ),
    GetCryptoKey: (r) => state.getCryptoKey(r.name),
    ListCryptoKeyVersions: (r) => state.listVersions(r.parent, r.pageSize, r.pageToken),
    GetCryptoKeyVersion: (r) => state.getVersion(r.name),
    CreateCryptoKeyVersion: (r) => state.createVersion(r.parent),
    UpdateCryptoKeyVersion: (r) =>
      state.updateVersion(r.cryptoKeyVersion ?? {}, r.updateMask?.paths ?? []),
    DestroyCryptoKeyVersion: (r) => state.destroyVersion(r.name),
    GetPublicKey: (r) => state.publicKey(r.name),
    AsymmetricSign: (r) => state.asymmetricSign(r),
  };
  const service: grpc.UntypedServiceImplementation = {};
  for (const [method, handler] of Object.entries(handlers)) {
    const name = method[0]!.toLowerCase() + method.slice(1);
    service[name] = (
      call: grpc.ServerUnaryCall<Message, Message>,
      callback: grpc.sendUnaryData<Message>,
    ) => {
      faults.answer(method, call.request, handler).then(
        (response) => callback(null, response),
        (err: unknown) => {
          if (err instanceof RpcError)
            callback({ code: grpc.status[err.code], details: err.message });
          else callback({ code: grpc.status.INTERNAL, details: String(err) });
        },
      );
    };
  }
  return service;
}

/** The listening side: can be stopped and started again on the same port, keeping its keys. */
class PeerServer {
  private server?: grpc.Server;
  private readonly service = loadService();

  constructor(
    private readonly state: KmsState,
    private readonly faults: FaultInjector,
    public port: number,
  ) {}

  async start(): Promise<number> {
    if (this.server) return this.port;
    const server = new grpc.Server();
    server.addService(this.service, implementation(this.state, this.faults));
    this.port = await new Promise<number>((resolve, reject) =>
      server.bindAsync(
        `127.0.0.1:${this.port}`,
        grpc.ServerCredentials.createInsecure(),
        (err, port) => (err ? reject(err) : resolve(port)),
      ),
    );
    this.server = server;
    return this.port;
  }

  stop(): void {
    // forceShutdown cuts open connections too, as a crashed or unreachable service would.
    this.server?.forceShutdown();
    this.server = undefined;
  }
}

async function main(): Promise<void> {
  checkCurveOrders();
  const portArg = process.argv.indexOf('--port');
  const state = new KmsState();
  const faults = new FaultInjector();
  const peer = new PeerServer(state, faults, portArg > 0 ? Number(process.argv[portArg + 1]) : 0);
  const port = await peer.start();

  const control = async (message: PeerControl): Promise<unknown> => {
    switch (message.op) {
      case 'stop':
        return peer.stop();
      case 'start':
        return peer.start();
      case 'fault':
        return faults.add(message.fault, message.method, message.times);
      case 'clearFaults':
        return faults.clear();
      case 'calls':
        return faults.callCount(message.method);
      case 'generationDelay':
        return state.setGenerationDelay(message.ms);
    }
  };
  if (process.send) {
    process.on('message', (message: PeerControl & { id: number }) => {
      control(message).then(
        (result) => process.send!({ id: message.id, result: result ?? null }),
        (err: unknown) => process.send!({ id: message.id, error: String(err) }),
      );
    });
    // The parent going away (a killed test run) must not leave this server behind.
    process.on('disconnect', () => process.exit(0));
    process.send({ ready: true, port });
  } else {
    process.stdout.write(
      `gcp-kms peer listening on 127.0.0.1:${port} (crc32c self-test ${crc32c('123456789').toString(16)})\n`,
    );
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`gcp-kms peer failed: ${String(err)}\n`);
  process.exit(1);
});
