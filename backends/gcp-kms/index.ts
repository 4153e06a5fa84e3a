import type { KeyObject } from 'node:crypto';
import type { protos } from '@google-cloud/kms';
import type { Logger } from 'pino';
import { WfidError } from '../../src/errors.js';
import type { JwsAlg } from '../../src/jws/algorithms.js';
import type { BackendFactory, BackendKey, KeyBackend } from '../../src/keys/backend.js';
import { jwsAlgOf } from './algorithms.js';
import {
  callOptions,
  type KeyManagementServiceClient,
  openKmsClient,
  reconnectBackoff,
} from './client.js';
import type { GcpKmsConfig } from './config.js';
import { type KmsOperation, type RetryPolicy, withRetries } from './faults.js';
import { jwsSignature, signRequest, verifiedPublicKey } from './messages.js';
import { type KmsKeyName, parseKeyUri } from './uri.js';

type VersionMessage = protos.google.cloud.kms.v1.ICryptoKeyVersion;

const SIGNER = 'roles/cloudkms.signerVerifier';
const VIEWER = 'roles/cloudkms.viewer';
/** No predefined role narrower than admin holds cryptoKeyVersions.create/update. */
const ADMIN = 'roles/cloudkms.admin, or a custom role';

/**
 * Google Cloud KMS: the versions of one CryptoKey are the ring's key versions (or one version,
 * pinned in the URI). Every request and response is checked with CRC32C as Google's data
 * integrity guidelines ask, and a response must name the version that was asked for.
 */
export class GcpKmsBackend implements KeyBackend {
  readonly kind = 'gcp-kms';
  /** Absent when the URI pins one version: the issuer then neither makes nor disables versions. */
  readonly createKey?: () => Promise<BackendKey>;
  readonly disableKey?: (key: BackendKey) => Promise<void>;
  /** Public keys by version name: a version's key never changes, and GetPublicKey costs a call. */
  private readonly publicKeys = new Map<string, KeyObject>();
  /** Versions already warned about, so a refresh every minute does not repeat the warning. */
  private readonly warned = new Set<string>();
  private readonly retry: RetryPolicy;

  constructor(
    private readonly client: KeyManagementServiceClient,
    readonly key: KmsKeyName,
    private readonly config: GcpKmsConfig,
    private readonly logger: Logger,
  ) {
    this.retry = {
      retries: config.retries,
      backoffMs: config.retry_backoff,
      maxBackoffMs: config.retry_max_backoff,
      // grpc-js adds up to 20% jitter to its reconnect backoff.
      unavailableRetryAfter: Math.ceil((reconnectBackoff(config).maxMs * 1.2) / 1000),
    };
    if (!key.version) {
      this.createKey = () => this.createVersion();
      this.disableKey = (backendKey) => this.disableVersion(backendKey);
    }
  }

  async listKeys(): Promise<BackendKey[]> {
    const versions = await this.listVersions();
    // Public keys of versions not seen before are fetched side by side, then cached.
    const keys = await Promise.all(versions.map((version) => this.toBackendKey(version)));
    return keys.filter((key): key is BackendKey => key !== undefined);
  }

  async sign(key: BackendKey, signingInput: Uint8Array): Promise<Uint8Array> {
    if (!key.ref.startsWith(`${this.key.cryptoKey}/cryptoKeyVersions/`)) {
      throw new WfidError(
        'ERR_KEY_NOT_FOUND',
        `${key.ref} is not a version of ${this.key.cryptoKey}`,
      );
    }
    const request = signRequest(key.ref, key.alg, signingInput);
    const [response] = await this.call(
      this.op('AsymmetricSign', key.ref, 'useToSign', SIGNER),
      () => this.client.asymmetricSign(request, callOptions(this.config)),
    );
    return jwsSignature(response, key.ref, key.alg);
  }

  async close(): Promise<void> {
    await this.client.close();
  }

  private async createVersion(): Promise<BackendKey> {
    // Not retried: a retry after a lost answer would leave a second version behind.
    const operation = {
      ...this.op('CreateCryptoKeyVersion', this.key.cryptoKey, 'create', ADMIN),
      idempotent: false,
    };
    const [created] = await this.call(operation, () =>
      this.client.createCryptoKeyVersion(
        { parent: this.key.cryptoKey, cryptoKeyVersion: {} },
        callOptions(this.config),
      ),
    );
    const version = await this.waitUntilGenerated(created);
    const key = await this.toBackendKey(version);
    if (!key)
      throw new WfidError(
        'ERR_KEY_UNSUITABLE',
        `${version.name} has algorithm ${version.algorithm}, which the issuer cannot use`,
      );
    this.logger.info({ ref: key.ref, alg: key.alg }, 'created a Cloud KMS key version');
    return key;
  }

  private async disableVersion(key: BackendKey): Promise<void> {
    await this.call(this.op('UpdateCryptoKeyVersion', key.ref, 'update', ADMIN), () =>
      this.client.updateCryptoKeyVersion(
        {
          cryptoKeyVersion: { name: key.ref, state: 'DISABLED' },
          updateMask: { paths: ['state'] },
        },
        callOptions(this.config),
      ),
    );
  }

  private async listVersions(): Promise<VersionMessage[]> {
    const pinned = this.key.version;
    if (pinned) {
      const [version] = await this.call(this.op('GetCryptoKeyVersion', pinned, 'get', VIEWER), () =>
        this.client.getCryptoKeyVersion({ name: pinned }, callOptions(this.config)),
      );
      return [version];
    }
    const parent = this.key.cryptoKey;
    // The SDK follows next_page_token, so a key with many versions is listed whole.
    const [versions] = await this.call(
      this.op('ListCryptoKeyVersions', parent, 'list', VIEWER),
      () => this.client.listCryptoKeyVersions({ parent }, callOptions(this.config)),
    );
    return versions;
  }

  /** New versions are PENDING_GENERATION first (seconds for HSM keys); poll until they are usable. */
  private async waitUntilGenerated(version: VersionMessage): Promise<VersionMessage> {
    const deadline = Date.now() + this.config.generation_timeout;
    let current = version;
    for (
      let delay = 50;
      current.state === 'PENDING_GENERATION';
      delay = Math.min(delay * 2, 1000)
    ) {
      if (Date.now() + delay > deadline) {
        throw new WfidError(
          'ERR_BACKEND_UNAVAILABLE',
          `${version.name} is still being generated; it is used once a refresh finds it ENABLED`,
          { retryAfter: 10 },
        );
      }
      await new Promise((resolve) => setTimeout(resolve, delay));
      [current] = await this.call(
        this.op('GetCryptoKeyVersion', version.name!, 'get', VIEWER),
        () => this.client.getCryptoKeyVersion({ name: version.name }, callOptions(this.config)),
      );
    }
    if (current.state !== 'ENABLED')
      throw new WfidError('ERR_BACKEND', `${version.name} ended in state ${current.state}`);
    return current;
  }

  /** A listed version as a BackendKey, or undefined when the issuer cannot or need not use it. */
  private async toBackendKey(version: VersionMessage): Promise<BackendKey | undefined> {
    const name = version.name!;
    const alg = jwsAlgOf(version.algorithm as string);
    if (!alg) {
      this.warnOnce(
        name,
        { ref: name, algorithm: version.algorithm },
        'skipping a Cloud KMS key version whose algorithm JWS cannot use',
      );
      return undefined;
    }
    const enabled = version.state === 'ENABLED';
    const cached = this.publicKeys.get(name);
    // Cloud KMS serves public keys of ENABLED versions only. A version that left ENABLED is
    // still listed (disabled) if its key was seen before, so the ring can retire it.
    if (!enabled && !cached) return undefined;
    const publicKey = cached ?? (await this.fetchPublicKey(name, alg));
    const seconds = Number(String(version.createTime?.seconds ?? 0));
    const createdAt = new Date(seconds * 1000 + Math.floor((version.createTime?.nanos ?? 0) / 1e6));
    return { ref: name, alg, publicKey, createdAt, enabled };
  }

  private async fetchPublicKey(name: string, alg: JwsAlg): Promise<KeyObject> {
    const [answer] = await this.call(this.op('GetPublicKey', name, 'viewPublicKey', SIGNER), () =>
      this.client.getPublicKey({ name }, callOptions(this.config)),
    );
    const publicKey = verifiedPublicKey(answer, name, alg);
    this.publicKeys.set(name, publicKey);
    return publicKey;
  }

  private op(rpc: string, resource: string, permission: string, role: string): KmsOperation {
    return { rpc, resource, permission: `cloudkms.cryptoKeyVersions.${permission}`, role };
  }

  private call<T>(operation: KmsOperation, call: () => Promise<T>): Promise<T> {
    return withRetries(operation, this.retry, this.logger, call);
  }

  private warnOnce(name: string, fields: object, message: string): void {
    if (this.warned.has(name)) return;
    this.warned.add(name);
    this.logger.warn(fields, message);
  }
}

export const createBackend: BackendFactory<GcpKmsConfig> = async ({
  uri,
  alg,
  section,
  logger,
}) => {
  const key = parseKeyUri(uri);
  const backend = new GcpKmsBackend(await openKmsClient(section), key, section, logger);
  let listed: BackendKey[] = [];
  try {
    listed = await backend.listKeys();
  } catch (err) {
    // KMS briefly unreachable at start: start anyway, the ring retries and /readyz tells.
    // Anything else (no permission, no such key, bad credentials) is a setup error: stop here.
    if (!(err instanceof WfidError && err.code === 'ERR_BACKEND_UNAVAILABLE')) {
      await backend.close();
      throw err;
    }
    logger.warn({ err: err.message }, 'Cloud KMS unreachable at start; will retry on refresh');
    return backend;
  }
  const enabled = listed.filter((listedKey) => listedKey.enabled);
  if (enabled.length === 0) {
    logger.warn(
      { key: key.version ?? key.cryptoKey },
      'no ENABLED Cloud KMS key version the issuer can use',
    );
  } else if (!enabled.some((listedKey) => listedKey.alg === alg)) {
    // The CryptoKey, not the issuer's `alg`, decides the algorithm of its versions.
    const found = [...new Set(enabled.map((listedKey) => listedKey.alg))];
    logger.warn(
      { alg, found },
      'the CryptoKey signs with another alg than configured; its own alg is used',
    );
  }
  return backend;
};
