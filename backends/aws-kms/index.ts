import { createHash, type KeyObject } from 'node:crypto';
import type { KeyMetadata } from '@aws-sdk/client-kms';
import type { Logger } from 'pino';
import { describeError, isWfidError, WfidError } from '../../src/errors.js';
import { ALGORITHMS, type JwsAlg, keyFitsAlg } from '../../src/jws/algorithms.js';
import { derToRaw } from '../../src/jws/ecdsa.js';
import { publicKeyFromSpki } from '../../src/jws/jwk.js';
import type { BackendFactory, BackendKey, KeyBackend } from '../../src/keys/backend.js';
import { importOptional } from '../../src/optional-package.js';
import { assertKeyFitsAlg, keySpecFor, SIGNING_ALGORITHM } from './algorithms.js';
import { KmsApi, type KmsSdk } from './client.js';
import type { AwsKmsConfig } from './config.js';
import { TagDiscovery } from './discovery.js';
import { type AwsKmsUri, parseAwsKmsUri } from './uri.js';

export { parseAwsKmsUri } from './uri.js';

/**
 * Signing keys in AWS KMS. A "version" is a whole KMS key (asymmetric KMS keys have none):
 * the key the URI names, the keys in `aws_kms.keys`, and with `discovery: tags` every key
 * tagged `wfid:ring=<ring>`. Refs are key ARNs. Public keys are read once per key and kept:
 * GetPublicKey is never on the token path.
 */
export class AwsKmsBackend implements KeyBackend {
  readonly kind = 'aws-kms';
  /**
   * Present only with tag discovery: a key the issuer makes must be found again after the alias
   * moves on, and only the tag finds it. Without it, versions are made outside.
   */
  readonly createKey?: () => Promise<BackendKey>;
  private readonly publicKeys = new Map<string, KeyObject>();
  private readonly discovery?: TagDiscovery;

  constructor(
    readonly api: KmsApi,
    readonly uri: AwsKmsUri,
    readonly alg: JwsAlg,
    private readonly config: AwsKmsConfig,
    private readonly logger: Logger,
  ) {
    keySpecFor(alg, config.rsa_key_spec); // refuses EdDSA before any call
    if (config.discovery === 'tags') {
      this.discovery = new TagDiscovery(api, config.ring_tag, config.ring, logger);
      this.createKey = () => this.makeKey();
    }
  }

  /**
   * Checks the URI's key at start-up: it must be enabled and fit the alg, and exist unless the
   * key lifecycle may make it (`keys.create` other than never, with tag discovery): its first
   * key then takes the URI's alias. Opening never makes a key.
   */
  async open(lifecycleMayCreate: boolean): Promise<void> {
    const create = lifecycleMayCreate && this.createKey !== undefined;
    let metadata: KeyMetadata | undefined;
    try {
      metadata = await this.api.describeKey(this.uri.keyId);
    } catch (err) {
      if (!(isWfidError(err, 'ERR_KEY_NOT_FOUND') && create)) throw err;
    }
    if (metadata) {
      assertKeyFitsAlg(metadata, this.alg);
      if (metadata.KeyState !== 'Enabled') {
        throw new WfidError(
          'ERR_KEY_DISABLED',
          `KMS key ${metadata.Arn} (${this.uri.keyId}) is ${metadata.KeyState}`,
        );
      }
    }
    await this.listKeys();
  }

  async listKeys(): Promise<BackendKey[]> {
    const named = [this.uri.keyId, ...this.config.keys];
    const tagged = this.discovery ? await this.discovery.find() : [];
    const metadata = await Promise.all(
      [...named, ...tagged].map((id) =>
        this.api.describeKey(id).catch((err) => {
          // An alias being moved or a key removed from the list: the rest of the ring still signs.
          if (!isWfidError(err, 'ERR_KEY_NOT_FOUND')) throw err;
          this.logger.warn(
            { keyId: id, err: describeError(err) },
            'a configured KMS key was not found',
          );
          return undefined;
        }),
      ),
    );
    const byArn = new Map<string, KeyMetadata>();
    for (const entry of metadata) if (entry && !byArn.has(entry.Arn!)) byArn.set(entry.Arn!, entry);
    const keys: BackendKey[] = [];
    for (const entry of byArn.values()) {
      assertKeyFitsAlg(entry, this.alg);
      const key = await this.toBackendKey(entry);
      if (key) keys.push(key);
    }
    return keys.sort((a, b) => a.createdAt.getTime() - b.createdAt.getTime());
  }

  async sign(key: BackendKey, signingInput: Uint8Array): Promise<Uint8Array> {
    const spec = ALGORITHMS[key.alg];
    const algorithm = SIGNING_ALGORITHM[key.alg];
    if (!spec.hash || !algorithm)
      throw new WfidError('ERR_KEY_UNSUITABLE', `AWS KMS cannot sign ${key.alg}`);
    const digest = createHash(spec.hash).update(signingInput).digest();
    const signature = await this.api.signDigest(key.ref, digest, algorithm);
    // KMS returns ECDSA signatures as DER; JWS wants fixed-size r||s.
    return spec.keyType === 'ec' ? derToRaw(signature, spec.coordinateSize!) : signature;
  }

  /** Never schedules deletion: a disabled key can be enabled again, a deleted one is gone. */
  async disableKey(key: BackendKey): Promise<void> {
    await this.api.disableKey(key.ref);
    this.logger.info({ ref: key.ref }, 'disabled a KMS key');
  }

  async close(): Promise<void> {
    this.api.destroy();
  }

  /** CreateKey with the ring tag, then the URI's alias (if it names one) moves to the new key. */
  private async makeKey(): Promise<BackendKey> {
    const metadata = await this.api.createKey(
      keySpecFor(this.alg, this.config.rsa_key_spec),
      [{ TagKey: this.config.ring_tag, TagValue: this.config.ring }],
      `workflow-identity signing key (${this.alg}, ring ${this.config.ring})`,
    );
    this.logger.info(
      { ref: metadata.Arn, alg: this.alg, ring: this.config.ring },
      'created a KMS signing key',
    );
    if (this.uri.alias) {
      // By key id: AWS takes an id or an ARN here, LocalStack resolves the alias only from an id.
      await this.api.pointAlias(this.uri.alias, metadata.KeyId!);
      this.logger.info(
        { alias: this.uri.alias, ref: metadata.Arn },
        'pointed the alias at the new key',
      );
    }
    const key = await this.toBackendKey(metadata);
    if (!key)
      throw new WfidError(
        'ERR_BACKEND',
        `AWS KMS created key ${metadata.Arn} in state ${metadata.KeyState}`,
      );
    return key;
  }

  /** Undefined for a key that is not enabled and whose public key was never read: KMS refuses it. */
  private async toBackendKey(metadata: KeyMetadata): Promise<BackendKey | undefined> {
    const ref = metadata.Arn!;
    const enabled = metadata.KeyState === 'Enabled';
    let publicKey = this.publicKeys.get(ref);
    if (!publicKey) {
      if (!enabled) return undefined;
      publicKey = publicKeyFromSpki(await this.api.getPublicKey(ref));
      if (!keyFitsAlg(publicKey, this.alg)) {
        throw new WfidError(
          'ERR_KEY_UNSUITABLE',
          `KMS key ${ref} has a public key that cannot verify ${this.alg}`,
        );
      }
      this.publicKeys.set(ref, publicKey);
    }
    return {
      ref,
      alg: this.alg,
      publicKey,
      createdAt: metadata.CreationDate ?? new Date(0),
      enabled,
    };
  }
}

export const createBackend: BackendFactory<AwsKmsConfig> = async ({
  uri,
  alg,
  section,
  create,
  logger,
}) => {
  const parsed = parseAwsKmsUri(uri);
  const sdk = await importOptional<KmsSdk>('@aws-sdk/client-kms', 'the aws-kms backend');
  const api = new KmsApi(sdk, {
    region: section.region ?? parsed.region,
    endpoint: section.endpoint ?? parsed.endpoint,
    timeoutMs: section.timeout,
    maxConcurrency: section.max_concurrency,
    retry: {
      retries: section.retries,
      backoffMs: section.retry_backoff,
      maxBackoffMs: section.retry_max_backoff,
    },
  });
  const backend = new AwsKmsBackend(api, parsed, alg, section, logger);
  try {
    await backend.open(create !== 'never');
  } catch (err) {
    api.destroy();
    throw err;
  }
  return backend;
};
