import { z } from 'zod';
import { duration, flag } from '../../src/config/fields.js';

/**
 * Config section `aws_kms` (no SDK import here: the schema loads for every backend).
 * Every field is overridable by `WFID_AWS_KMS_<FIELD>`. Credentials are not configured here:
 * the SDK's default chain finds them (env, profile, web identity, container and instance roles).
 */
export const awsKmsConfig = z
  .object({
    /** AWS region; unset means the key ARN's region, then AWS_REGION / AWS_DEFAULT_REGION / the profile. */
    region: z.string().min(1).optional(),
    /** KMS endpoint URL (VPC endpoint, LocalStack); the key URI's host:port sets it too. */
    endpoint: z.url().optional(),
    /** More versions of the ring, besides the key the URI names: key ids, ARNs or aliases. */
    keys: z.array(z.string().min(1)).default([]),
    /**
     * `tags`: also find every key tagged `<ring_tag>=<ring>` (needs kms:ListKeys and
     * kms:ListResourceTags). `none`: only the URI's key and `keys` (a read-only signer).
     */
    discovery: z.enum(['tags', 'none']).default('tags'),
    /** Tag value that marks the ring's keys; new keys get it too. */
    ring: z.string().min(1).max(256).default('wfid'),
    ring_tag: z.string().min(1).max(128).default('wfid:ring'),
    /** Deprecated: `keys.create` (true reads as `always`). */
    create_key: flag.optional(),
    /** KeySpec for keys the issuer creates with an RSA alg (RS256, PS256). */
    rsa_key_spec: z.enum(['RSA_2048', 'RSA_3072', 'RSA_4096']).default('RSA_2048'),
    /**
     * Sign calls in flight at once. AWS shares 300 (ECC) / 500 (RSA) requests per second per
     * account and region across all callers; stay well under it.
     */
    max_concurrency: z.coerce.number().int().min(1).max(1000).default(50),
    /** Deadline of one KMS request (connect and answer). */
    timeout: duration.default(5_000),
    /** Extra attempts after throttling, 5xx, timeouts or a refused connection. */
    retries: z.coerce.number().int().min(0).max(10).default(3),
    /** Backoff before the first retry; doubles per attempt (with jitter) up to `retry_max_backoff`. */
    retry_backoff: duration.default(100),
    retry_max_backoff: duration.default(2_000),
  })
  .strict()
  .prefault({});

export type AwsKmsConfig = z.output<typeof awsKmsConfig>;
