import { WfidError } from '../../src/errors.js';
import { type RetryPolicy, retryTransient } from '../../src/keys/retry.js';

export type { RetryPolicy };

interface SdkError {
  name?: string;
  message?: string;
  code?: string;
  $retryable?: unknown;
  $metadata?: { httpStatusCode?: number };
}

/** KMS answers that say "later": throttling, KMS or its key store briefly failing. */
const TRANSIENT_NAMES = new Set([
  'ThrottlingException',
  'KMSInternalException',
  'DependencyTimeoutException',
  'KeyUnavailableException',
  'TimeoutError',
  'RequestTimeout',
  'RequestTimeoutException',
  'ServiceUnavailable',
  'InternalFailure',
]);
/** Socket faults: KMS (or the endpoint in between) unreachable for now. */
const TRANSIENT_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ECONNABORTED',
  'ETIMEDOUT',
  'EPIPE',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EAI_AGAIN',
]);

export function isTransient(err: unknown): boolean {
  const e = err as SdkError;
  const status = e?.$metadata?.httpStatusCode ?? 0;
  return (
    TRANSIENT_NAMES.has(e?.name ?? '') ||
    TRANSIENT_CODES.has(e?.code ?? '') ||
    status >= 500 ||
    status === 429 ||
    Boolean(e?.$retryable)
  );
}

/** Runs one KMS call under the shared retry policy, then maps whatever is left to a WfidError. */
export async function withRetries<T>(
  operation: string,
  keyName: string,
  policy: RetryPolicy,
  call: () => Promise<T>,
): Promise<T> {
  let attempts = 0;
  try {
    return await retryTransient(policy, { isTransient }, () => {
      attempts++;
      return call();
    });
  } catch (err) {
    throw toWfidError(err, operation, keyName, policy, attempts);
  }
}

export function toWfidError(
  err: unknown,
  operation: string,
  keyName: string,
  policy: RetryPolicy,
  attempts: number,
): WfidError {
  if (err instanceof WfidError) return err;
  const e = err as SdkError;
  const what = `${e?.name ?? 'Error'}${e?.code && e.code !== e.name ? ` ${e.code}` : ''}: ${e?.message ?? String(err)}`;
  const options = { cause: err };
  switch (e?.name) {
    case 'NotFoundException':
      return new WfidError(
        'ERR_KEY_NOT_FOUND',
        `AWS KMS ${operation}: key ${keyName} not found (${what})`,
        options,
      );
    case 'DisabledException':
    case 'KMSInvalidStateException':
      return new WfidError(
        'ERR_KEY_DISABLED',
        `AWS KMS ${operation}: key ${keyName} is not enabled (${what})`,
        options,
      );
    case 'InvalidKeyUsageException':
    case 'UnsupportedOperationException':
      return new WfidError(
        'ERR_KEY_UNSUITABLE',
        `AWS KMS ${operation}: key ${keyName} cannot do this (${what})`,
        options,
      );
    case 'AccessDeniedException':
      return new WfidError(
        'ERR_BACKEND',
        `AWS KMS ${operation}: access denied for key ${keyName}; the issuer's role needs kms:${operation} (${what})`,
        options,
      );
  }
  if (/region is missing/i.test(e?.message ?? '')) {
    return new WfidError(
      'ERR_CONFIG',
      'aws_kms.region: no AWS region (set aws_kms.region, AWS_REGION, or use a key ARN)',
      options,
    );
  }
  if (isTransient(err)) {
    return new WfidError(
      'ERR_BACKEND_UNAVAILABLE',
      `AWS KMS ${operation} for key ${keyName} failed after ${attempts} attempt(s): ${what}`,
      { cause: err, retryAfter: Math.max(1, Math.ceil(policy.maxBackoffMs / 1000)) },
    );
  }
  return new WfidError(
    'ERR_BACKEND',
    `AWS KMS ${operation} for key ${keyName} failed: ${what}`,
    options,
  );
}
