import type {
  KeyMetadata,
  KeySpec,
  KMSClient,
  SigningAlgorithmSpec,
  Tag,
} from '@aws-sdk/client-kms';
import { WfidError } from '../../src/errors.js';
import { type RetryPolicy, withRetries } from './faults.js';
import { ConcurrencyLimit } from './limiter.js';

export type KmsSdk = typeof import('@aws-sdk/client-kms');

export interface KmsApiOptions {
  region?: string;
  endpoint?: string;
  timeoutMs: number;
  maxConcurrency: number;
  retry: RetryPolicy;
}

/**
 * The KMS calls the backend makes, each with retries, timeouts and error mapping, so the
 * backend reads as domain logic. The SDK's own retries are off (maxAttempts 1): one retry
 * policy, ours, that config and tests can set.
 */
export class KmsApi {
  readonly client: KMSClient;
  /** Only Sign is limited: it is the hot path and the call with the tight shared quota. */
  readonly signLimit: ConcurrencyLimit;
  private readonly retry: RetryPolicy;

  constructor(
    private readonly sdk: KmsSdk,
    options: KmsApiOptions,
  ) {
    this.client = new sdk.KMSClient({
      region: options.region,
      endpoint: options.endpoint,
      maxAttempts: 1,
      requestHandler: { connectionTimeout: options.timeoutMs, requestTimeout: options.timeoutMs },
    });
    this.signLimit = new ConcurrencyLimit(options.maxConcurrency);
    this.retry = options.retry;
  }

  async describeKey(keyId: string): Promise<KeyMetadata> {
    const out = await this.call('DescribeKey', keyId, () =>
      this.client.send(new this.sdk.DescribeKeyCommand({ KeyId: keyId })),
    );
    if (!out.KeyMetadata?.Arn)
      throw new WfidError('ERR_BACKEND', `AWS KMS DescribeKey ${keyId}: no key metadata`);
    return out.KeyMetadata;
  }

  /** DER SubjectPublicKeyInfo. */
  async getPublicKey(keyArn: string): Promise<Uint8Array> {
    const out = await this.call('GetPublicKey', keyArn, () =>
      this.client.send(new this.sdk.GetPublicKeyCommand({ KeyId: keyArn })),
    );
    if (!out.PublicKey)
      throw new WfidError('ERR_BACKEND', `AWS KMS GetPublicKey ${keyArn}: no public key`);
    return out.PublicKey;
  }

  /** Signs a digest the caller computed (MessageType DIGEST): the message never leaves the process. */
  async signDigest(
    keyArn: string,
    digest: Uint8Array,
    algorithm: SigningAlgorithmSpec,
  ): Promise<Uint8Array> {
    const out = await this.signLimit.run(() =>
      this.call('Sign', keyArn, () =>
        this.client.send(
          new this.sdk.SignCommand({
            KeyId: keyArn,
            Message: digest,
            MessageType: 'DIGEST',
            SigningAlgorithm: algorithm,
          }),
        ),
      ),
    );
    if (!out.Signature) throw new WfidError('ERR_BACKEND', `AWS KMS Sign ${keyArn}: no signature`);
    return out.Signature;
  }

  /** Every key id in the account and region (all pages). */
  async listKeyIds(): Promise<string[]> {
    const ids: string[] = [];
    let marker: string | undefined;
    do {
      const out = await this.call('ListKeys', '*', () =>
        this.client.send(new this.sdk.ListKeysCommand({ Limit: 1000, Marker: marker })),
      );
      for (const key of out.Keys ?? []) if (key.KeyId) ids.push(key.KeyId);
      marker = out.Truncated ? out.NextMarker : undefined;
    } while (marker);
    return ids;
  }

  async listTags(keyId: string): Promise<Tag[]> {
    const tags: Tag[] = [];
    let marker: string | undefined;
    do {
      const out = await this.call('ListResourceTags', keyId, () =>
        this.client.send(new this.sdk.ListResourceTagsCommand({ KeyId: keyId, Marker: marker })),
      );
      tags.push(...(out.Tags ?? []));
      marker = out.Truncated ? out.NextMarker : undefined;
    } while (marker);
    return tags;
  }

  /** Not retried: a retry after a lost answer would make a second key. */
  async createKey(keySpec: KeySpec, tags: Tag[], description: string): Promise<KeyMetadata> {
    const out = await this.call(
      'CreateKey',
      '(new)',
      () =>
        this.client.send(
          new this.sdk.CreateKeyCommand({
            KeySpec: keySpec,
            KeyUsage: 'SIGN_VERIFY',
            Tags: tags,
            Description: description,
          }),
        ),
      { ...this.retry, retries: 0 },
    );
    if (!out.KeyMetadata?.Arn)
      throw new WfidError('ERR_BACKEND', 'AWS KMS CreateKey: no key metadata');
    return out.KeyMetadata;
  }

  /** Points `alias` at the key: UpdateAlias, or CreateAlias the first time. */
  async pointAlias(alias: string, keyId: string): Promise<void> {
    try {
      await this.call('UpdateAlias', alias, () =>
        this.client.send(new this.sdk.UpdateAliasCommand({ AliasName: alias, TargetKeyId: keyId })),
      );
    } catch (err) {
      if (!(err instanceof WfidError && err.code === 'ERR_KEY_NOT_FOUND')) throw err;
      await this.call('CreateAlias', alias, () =>
        this.client.send(new this.sdk.CreateAliasCommand({ AliasName: alias, TargetKeyId: keyId })),
      );
    }
  }

  async disableKey(keyArn: string): Promise<void> {
    await this.call('DisableKey', keyArn, () =>
      this.client.send(new this.sdk.DisableKeyCommand({ KeyId: keyArn })),
    );
  }

  destroy(): void {
    this.client.destroy();
  }

  private call<T>(
    operation: string,
    keyName: string,
    send: () => Promise<T>,
    retry = this.retry,
  ): Promise<T> {
    return withRetries(operation, keyName, retry, send);
  }
}
