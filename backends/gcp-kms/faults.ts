import type { Logger } from 'pino';
import { WfidError } from '../../src/errors.js';
import { type RetryPolicy as BaseRetryPolicy, retryTransient } from '../../src/keys/retry.js';

/** gRPC status codes (google.rpc.Code) the backend tells apart; kept here so grpc is not imported. */
const CODE = {
  DEADLINE_EXCEEDED: 4,
  NOT_FOUND: 5,
  PERMISSION_DENIED: 7,
  RESOURCE_EXHAUSTED: 8,
  FAILED_PRECONDITION: 9,
  UNAVAILABLE: 14,
  UNAUTHENTICATED: 16,
} as const;

/** Faults a later attempt may not see: the service is restarting, slow, or throttling us. */
const TRANSIENT = new Set<number>([
  CODE.UNAVAILABLE,
  CODE.DEADLINE_EXCEEDED,
  CODE.RESOURCE_EXHAUSTED,
]);

export interface RetryPolicy extends BaseRetryPolicy {
  /**
   * Seconds after which an unreachable service is worth trying again: the channel has made
   * a new connection attempt by then (its reconnect backoff is bounded, see client.ts).
   */
  unavailableRetryAfter: number;
}

/** One KMS operation, named for messages, with the IAM permission it needs. */
export interface KmsOperation {
  /** RPC name, e.g. `AsymmetricSign`. */
  rpc: string;
  /** Resource the call is about (a CryptoKey or version name). */
  resource: string;
  permission: string;
  /** The predefined role that grants `permission`. */
  role: string;
  /** False for calls that must not run twice (CreateCryptoKeyVersion would make two versions). */
  idempotent?: boolean;
}

/**
 * Runs `call` under the shared retry policy, then turns whatever is left into a WfidError. The
 * SDK's own retries are switched off per call (see client.ts) so this is the only retry loop and
 * its bound is the configured one.
 */
export async function withRetries<T>(
  operation: KmsOperation,
  policy: RetryPolicy,
  logger: Logger,
  call: () => Promise<T>,
): Promise<T> {
  try {
    return await retryTransient(
      policy,
      {
        isTransient: (err) => TRANSIENT.has(grpcCode(err) ?? -1),
        attempts: operation.idempotent === false ? 1 : undefined,
        onRetry: (err, attempt, delayMs) =>
          logger.debug(
            { rpc: operation.rpc, code: grpcCode(err), attempt, delayMs: Math.round(delayMs) },
            'Cloud KMS call failed, retrying',
          ),
      },
      call,
    );
  } catch (err) {
    throw toWfidError(err, operation, policy);
  }
}

export function toWfidError(err: unknown, operation: KmsOperation, policy: RetryPolicy): WfidError {
  if (err instanceof WfidError) return err;
  const code = grpcCode(err);
  const detail =
    err instanceof Error
      ? ((err as { details?: string }).details ?? err.message) || String(code)
      : String(err);
  const what = `Cloud KMS ${operation.rpc} on ${operation.resource}`;
  switch (code) {
    case CODE.UNAVAILABLE:
    case CODE.DEADLINE_EXCEEDED:
    case CODE.RESOURCE_EXHAUSTED: {
      // Quotas are per minute: a throttled client should back off longer than a restarting service.
      const retryAfter = code === CODE.RESOURCE_EXHAUSTED ? 10 : policy.unavailableRetryAfter;
      const attempts = operation.idempotent === false ? 1 : policy.retries + 1;
      return new WfidError(
        'ERR_BACKEND_UNAVAILABLE',
        `${what} failed after ${attempts} attempt(s): ${detail}`,
        {
          cause: err,
          retryAfter,
        },
      );
    }
    case CODE.FAILED_PRECONDITION:
      // Cloud KMS answers this for a version that is DISABLED, DESTROYED or still PENDING_GENERATION.
      return new WfidError('ERR_KEY_DISABLED', `${what}: ${detail}`, { cause: err, retryAfter: 5 });
    case CODE.NOT_FOUND:
      return new WfidError('ERR_KEY_NOT_FOUND', `${what}: ${detail}`, {
        cause: err,
        retryAfter: 5,
      });
    case CODE.PERMISSION_DENIED:
      return new WfidError(
        'ERR_BACKEND',
        `${what}: permission denied; the issuer's service account needs ${operation.permission} on the CryptoKey (role ${operation.role}), or the resource does not exist (${detail})`,
        { cause: err, retryAfter: 30 },
      );
    case CODE.UNAUTHENTICATED:
      return new WfidError('ERR_BACKEND', `${what}: credentials were rejected (${detail})`, {
        cause: err,
        retryAfter: 30,
      });
    default:
      if (code === undefined && /default credentials/i.test(detail)) {
        return new WfidError(
          'ERR_BACKEND',
          `${what}: no Google credentials found; set GOOGLE_APPLICATION_CREDENTIALS or run with a service account (workload identity)`,
          { cause: err, retryAfter: 30 },
        );
      }
      return new WfidError('ERR_BACKEND', `${what} failed: ${detail}`, {
        cause: err,
        retryAfter: 5,
      });
  }
}

function grpcCode(err: unknown): number | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'number' ? code : undefined;
}
