import { createRequire } from 'node:module';
import { isIP } from 'node:net';
import type { KeyManagementServiceClient } from '@google-cloud/kms';
import type { CallOptions } from 'google-gax';
import { WfidError } from '../../src/errors.js';
import { importOptional } from '../../src/optional-package.js';
import type { GcpKmsConfig } from './config.js';

export type { KeyManagementServiceClient };

/**
 * A KeyManagementServiceClient for the configured endpoint. Production uses Application
 * Default Credentials over TLS (the SDK's defaults). `insecure` is for the test server:
 * plaintext gRPC with no credentials at all, allowed only to a loopback address.
 */
export async function openKmsClient(config: GcpKmsConfig): Promise<KeyManagementServiceClient> {
  const sdk = await importOptional<typeof import('@google-cloud/kms')>(
    '@google-cloud/kms',
    'the gcp-kms backend',
  );
  const Client =
    sdk.KeyManagementServiceClient ??
    (sdk as unknown as { default: typeof sdk }).default.KeyManagementServiceClient;
  const options: Record<string, unknown> = {
    port: config.port,
    'grpc.initial_reconnect_backoff_ms': reconnectBackoff(config).initialMs,
    'grpc.max_reconnect_backoff_ms': reconnectBackoff(config).maxMs,
  };
  if (config.api_endpoint) options.apiEndpoint = config.api_endpoint;
  if (config.insecure) {
    if (!config.api_endpoint || !isLoopback(config.api_endpoint)) {
      throw new WfidError(
        'ERR_CONFIG',
        `gcp_kms.insecure: plaintext gRPC is only allowed to a loopback api_endpoint (127.0.0.1, ::1, localhost), not "${config.api_endpoint ?? 'cloudkms.googleapis.com'}"`,
      );
    }
    // Channel credentials replace the TLS + per-call OAuth credentials gax would build. The
    // universe domain is given so gax does not ask google-auth-library for it: that lookup
    // would search for Application Default Credentials (and probe the metadata server).
    options.sslCreds = insecureCredentials();
    options.universeDomain = 'googleapis.com';
  }
  return new Client(options as ConstructorParameters<typeof Client>[0]);
}

/**
 * How often the gRPC channel tries to reconnect while KMS is unreachable. grpc-js waits up to
 * 120 s between attempts by default, so after an outage the issuer could keep failing long
 * after KMS is back; tied to the retry backoff instead, it notices within seconds.
 */
export function reconnectBackoff(config: GcpKmsConfig): { initialMs: number; maxMs: number } {
  return {
    initialMs: Math.max(100, config.retry_backoff),
    maxMs: Math.max(1000, config.retry_max_backoff),
  };
}

/** Per-call options: our deadline, and no SDK retries (faults.ts is the one retry loop). */
export function callOptions(config: GcpKmsConfig): CallOptions {
  return { timeout: config.timeout, retry: null };
}

/**
 * Insecure channel credentials from the very @grpc/grpc-js instance the SDK uses (grpc-js
 * refuses credentials objects made by another copy), reached through the SDK's google-gax.
 */
function insecureCredentials(): unknown {
  const require = createRequire(import.meta.url);
  const gaxPath = require.resolve('google-gax', { paths: [require.resolve('@google-cloud/kms')] });
  const gax = require(gaxPath) as typeof import('google-gax');
  return gax.grpc.credentials.createInsecure();
}

function isLoopback(host: string): boolean {
  const bare = host.replace(/^\[(.*)\]$/, '$1');
  if (bare === 'localhost') return true;
  if (isIP(bare) === 4) return bare.startsWith('127.');
  return bare === '::1';
}
