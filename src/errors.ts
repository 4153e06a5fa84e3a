/**
 * One error class with a stable `code` for everything the issuer raises, so callers can
 * `switch (err.code)` and tests assert codes rather than message text.
 * HTTP answers are derived from the code: the OAuth-style `error` and the status live here,
 * in one table, not scattered across routes.
 */
export type ErrorCode =
  | 'ERR_CONFIG'
  | 'ERR_SDK_MISSING'
  | 'ERR_KEY_NOT_FOUND'
  | 'ERR_KEY_DISABLED'
  | 'ERR_KEY_UNSUITABLE'
  | 'ERR_KEY_FILE_PERMISSIONS'
  | 'ERR_NO_SIGNING_KEY'
  | 'ERR_SIGNATURE_MISMATCH'
  | 'ERR_BACKEND_UNAVAILABLE'
  | 'ERR_BACKEND'
  | 'ERR_STORE_UNAVAILABLE'
  | 'ERR_INVALID_REQUEST'
  | 'ERR_PAYLOAD_TOO_LARGE'
  | 'ERR_INVALID_TOKEN'
  | 'ERR_UNAUTHORIZED'
  | 'ERR_FORBIDDEN'
  | 'ERR_NOT_FOUND'
  | 'ERR_CONFLICT'
  | 'ERR_EXECUTION_ENDED'
  | 'ERR_EXECUTION_WAITING'
  | 'ERR_RATE_LIMITED';

interface HttpShape {
  status: number;
  error: string;
}

const HTTP: Record<ErrorCode, HttpShape> = {
  ERR_CONFIG: { status: 500, error: 'server_error' },
  ERR_SDK_MISSING: { status: 500, error: 'server_error' },
  ERR_KEY_NOT_FOUND: { status: 503, error: 'temporarily_unavailable' },
  ERR_KEY_DISABLED: { status: 503, error: 'temporarily_unavailable' },
  ERR_KEY_UNSUITABLE: { status: 500, error: 'server_error' },
  ERR_KEY_FILE_PERMISSIONS: { status: 500, error: 'server_error' },
  ERR_NO_SIGNING_KEY: { status: 503, error: 'temporarily_unavailable' },
  ERR_SIGNATURE_MISMATCH: { status: 503, error: 'temporarily_unavailable' },
  ERR_BACKEND_UNAVAILABLE: { status: 503, error: 'temporarily_unavailable' },
  ERR_BACKEND: { status: 503, error: 'temporarily_unavailable' },
  ERR_STORE_UNAVAILABLE: { status: 503, error: 'temporarily_unavailable' },
  ERR_INVALID_REQUEST: { status: 400, error: 'invalid_request' },
  ERR_PAYLOAD_TOO_LARGE: { status: 413, error: 'invalid_request' },
  ERR_INVALID_TOKEN: { status: 401, error: 'invalid_token' },
  ERR_UNAUTHORIZED: { status: 401, error: 'unauthorized' },
  ERR_FORBIDDEN: { status: 403, error: 'access_denied' },
  ERR_NOT_FOUND: { status: 404, error: 'not_found' },
  ERR_CONFLICT: { status: 409, error: 'conflict' },
  ERR_EXECUTION_ENDED: { status: 409, error: 'execution_ended' },
  ERR_EXECUTION_WAITING: { status: 409, error: 'execution_waiting' },
  ERR_RATE_LIMITED: { status: 429, error: 'rate_limited' },
};

export class WfidError extends Error {
  readonly code: ErrorCode;
  /** Seconds a client should wait before retrying, for 429 and 503 answers. */
  readonly retryAfter?: number;

  constructor(
    code: ErrorCode,
    message: string,
    options?: { cause?: unknown; retryAfter?: number },
  ) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'WfidError';
    this.code = code;
    this.retryAfter = options?.retryAfter;
  }

  get status(): number {
    return HTTP[this.code].status;
  }

  /** The OAuth-style `error` value of the HTTP answer. */
  get oauthError(): string {
    return HTTP[this.code].error;
  }

  /**
   * Whether the message may be shown to an HTTP client. Server-side faults (config, keys,
   * backends) are described in the log; the client only learns that it should retry.
   */
  get exposeMessage(): boolean {
    return this.status < 500;
  }
}

export function isWfidError(err: unknown, code?: ErrorCode): err is WfidError {
  return err instanceof WfidError && (code === undefined || err.code === code);
}

/** A one-line description of a fault that is safe to log (no stack, no request data). */
export function describeError(err: unknown): string {
  if (err instanceof WfidError) return `${err.code}: ${err.message}`;
  if (err instanceof Error) return `${err.name}: ${err.message}`;
  return String(err);
}
