/**
 * An issuer answer that is not a success. `code` is the issuer's OAuth-style `error`
 * (`invalid_token`, `unauthorized`, `not_found`, ...) or `unreachable` when no answer came.
 * The message never contains a token: the issuer never echoes one, and we add none.
 */
export class IssuerError extends Error {
  override readonly name = 'IssuerError';
  readonly code: string;
  readonly status?: number;

  constructor(code: string, message: string, options: { status?: number; cause?: unknown } = {}) {
    super(message, { cause: options.cause });
    this.code = code;
    this.status = options.status;
  }

  static async fromResponse(response: Response, what: string): Promise<IssuerError> {
    let code = `http_${response.status}`;
    let description = response.statusText;
    try {
      const body = (await response.json()) as { error?: unknown; error_description?: unknown };
      if (typeof body.error === 'string') code = body.error;
      if (typeof body.error_description === 'string') description = body.error_description;
    } catch {
      // Not JSON (a proxy's error page): keep the HTTP status as the code.
    }
    return new IssuerError(code, `${what}: ${response.status} ${code}: ${description}`, {
      status: response.status,
    });
  }
}

export function isIssuerError(error: unknown): error is IssuerError {
  return error instanceof IssuerError;
}

/**
 * A refusal that retrying cannot fix: a request token that died with its execution, a bad
 * audience. Unreachable issuers, 5xx and rate limits (429) are worth retrying.
 */
export function isPermanentFailure(error: unknown): boolean {
  return (
    isIssuerError(error) && error.status !== undefined && error.status < 500 && error.status !== 429
  );
}
