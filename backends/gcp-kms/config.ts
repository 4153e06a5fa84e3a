import { z } from 'zod';
import { duration, flag } from '../../src/config/fields.js';

/**
 * Config section `gcp_kms` (no SDK import here: the schema loads for every backend).
 * Every field is overridable by `WFID_GCP_KMS_<FIELD>`. Credentials are not configured here:
 * the client uses Application Default Credentials (GOOGLE_APPLICATION_CREDENTIALS, workload
 * identity, the metadata server).
 */
export const gcpKmsConfig = z
  .object({
    /** Host of the KMS API; unset means `cloudkms.googleapis.com` (or the universe domain's). */
    api_endpoint: z.string().min(1).optional(),
    port: z.coerce.number().int().min(1).max(65535).default(443),
    /**
     * Plaintext gRPC without credentials, for the test server only. Refused unless
     * `api_endpoint` is a loopback address, so it cannot leak a request to the network.
     */
    insecure: flag.default(false),
    /** Deadline of one KMS call. */
    timeout: duration.default(10_000),
    /** Extra attempts after UNAVAILABLE, DEADLINE_EXCEEDED or RESOURCE_EXHAUSTED. */
    retries: z.coerce.number().int().min(0).max(10).default(3),
    /** Backoff before the first retry; doubles per attempt (with jitter) up to `retry_max_backoff`. */
    retry_backoff: duration.default(200),
    retry_max_backoff: duration.default(3_000),
    /** How long `createKey` waits for a new version to leave PENDING_GENERATION (HSM keys take longer). */
    generation_timeout: duration.default(60_000),
  })
  .strict()
  .prefault({});

export type GcpKmsConfig = z.output<typeof gcpKmsConfig>;
