/**
 * Test hooks of the Cloud KMS stand-in: injected failures (a status, a delay past the
 * client's deadline), corrupted response fields, and per-method call counts.
 */
export type StatusName =
  | 'INVALID_ARGUMENT'
  | 'NOT_FOUND'
  | 'ALREADY_EXISTS'
  | 'PERMISSION_DENIED'
  | 'FAILED_PRECONDITION'
  | 'UNAVAILABLE'
  | 'DEADLINE_EXCEEDED'
  | 'RESOURCE_EXHAUSTED'
  | 'UNIMPLEMENTED';

/** A request or response as @grpc/proto-loader hands it over: shaped by the proto, not by TS. */
// biome-ignore lint/suspicious/noExplicitAny: messages are checked against the proto at runtime
export type Message = Record<string, any>;

/** google.protobuf.Int64Value as proto-loader takes it (longs as strings). */
export const int64 = (value: number) => ({ value: String(value) });

export class RpcError extends Error {
  constructor(
    readonly code: StatusName,
    message: string,
  ) {
    super(message);
  }
}

/** Response fields a `corrupt` fault can spoil, as a faulty network path or proxy might. */
export type Corruption =
  | 'signatureCrc32c'
  | 'signature'
  | 'name'
  | 'verifiedDigestCrc32c'
  | 'pemCrc32c'
  | 'pem';

export type Fault =
  | { kind: 'status'; code: StatusName }
  | { kind: 'delay'; ms: number }
  | { kind: 'corrupt'; field: Corruption };

/** Messages the test helper sends over IPC. */
export type PeerControl =
  | { op: 'fault'; fault: Fault; method?: string; times?: number }
  | { op: 'clearFaults' }
  | { op: 'calls'; method: string }
  | { op: 'generationDelay'; ms: number }
  | { op: 'stop' }
  | { op: 'start' };

/** The IAM permission each method checks, as named in Cloud KMS's PERMISSION_DENIED messages. */
const PERMISSION: Record<string, string> = {
  CreateKeyRing: 'cloudkms.keyRings.create',
  GetKeyRing: 'cloudkms.keyRings.get',
  CreateCryptoKey: 'cloudkms.cryptoKeys.create',
  GetCryptoKey: 'cloudkms.cryptoKeys.get',
  ListCryptoKeyVersions: 'cloudkms.cryptoKeyVersions.list',
  GetCryptoKeyVersion: 'cloudkms.cryptoKeyVersions.get',
  CreateCryptoKeyVersion: 'cloudkms.cryptoKeyVersions.create',
  UpdateCryptoKeyVersion: 'cloudkms.cryptoKeyVersions.update',
  DestroyCryptoKeyVersion: 'cloudkms.cryptoKeyVersions.destroy',
  GetPublicKey: 'cloudkms.cryptoKeyVersions.viewPublicKey',
  AsymmetricSign: 'cloudkms.cryptoKeyVersions.useToSign',
};

export class FaultInjector {
  private faults: { fault: Fault; method?: string; remaining: number }[] = [];
  private readonly calls = new Map<string, number>();

  add(fault: Fault, method?: string, times = 1): void {
    this.faults.push({ fault, method, remaining: times });
  }

  clear(): void {
    this.faults = [];
  }

  callCount(method: string): number {
    return this.calls.get(method) ?? 0;
  }

  /** Runs one RPC through the fault hooks: failures before, corruption after. */
  async answer(method: string, request: Message, handler: (r: Message) => unknown) {
    this.calls.set(method, (this.calls.get(method) ?? 0) + 1);
    const index = this.faults.findIndex(
      (entry) => entry.method === undefined || entry.method === method,
    );
    const entry = index >= 0 ? this.faults[index] : undefined;
    if (entry && --entry.remaining <= 0) this.faults.splice(index, 1);
    const fault = entry?.fault;
    if (fault?.kind === 'delay') await new Promise((resolve) => setTimeout(resolve, fault.ms));
    if (fault?.kind === 'status') {
      const resource = request.name ?? request.parent ?? request.cryptoKeyVersion?.name ?? '';
      const message =
        fault.code === 'PERMISSION_DENIED'
          ? `Permission '${PERMISSION[method]}' denied on resource '${resource}' (or it may not exist).`
          : `injected ${fault.code}`;
      throw new RpcError(fault.code, message);
    }
    const response = (await handler(request)) as Message;
    if (fault?.kind === 'corrupt') corrupt(response, fault.field);
    return response;
  }
}

function corrupt(response: Message, field: Corruption): void {
  switch (field) {
    case 'signatureCrc32c':
      response.signatureCrc32c = int64((Number(response.signatureCrc32c.value) + 1) >>> 0);
      break;
    case 'signature':
      // The checksum still describes the original: what a bit flip on the way looks like.
      response.signature = Buffer.from(response.signature);
      response.signature[4] ^= 0x01;
      break;
    case 'name':
      response.name = response.name.replace(/\d+$/, (n: string) => String(Number(n) + 1000));
      break;
    case 'verifiedDigestCrc32c':
      response.verifiedDigestCrc32c = false;
      response.verifiedDataCrc32c = false;
      break;
    case 'pemCrc32c':
      response.pemCrc32c = int64((Number(response.pemCrc32c.value) + 1) >>> 0);
      break;
    case 'pem':
      response.pem = response.pem.replace(/[A-Za-z]/, (c: string) => (c === 'A' ? 'B' : 'A'));
      break;
  }
}
