import { IssuerError } from './issuer-error.js';

export interface CallOptions {
  timeoutMs: number;
  /** Retries of connection failures and 5xx/429 answers. */
  retries: number;
  fetch: typeof fetch;
}

/**
 * One JSON call to the issuer with a bearer credential. Retrying is safe for every route
 * n8n uses (registration and end are idempotent; a retried mint only mints one more token).
 */
export async function callIssuer<T>(
  method: string,
  url: string,
  bearer: string,
  body: unknown,
  options: CallOptions,
): Promise<T> {
  const what = `${method} ${new URL(url).pathname}`;
  for (let attempt = 0; ; attempt++) {
    let response: Response;
    try {
      response = await options.fetch(url, {
        method,
        headers: {
          authorization: `Bearer ${bearer}`,
          accept: 'application/json',
          ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        },
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: AbortSignal.timeout(options.timeoutMs),
      });
    } catch (cause) {
      if (attempt < options.retries) {
        await delay(backoffMs(attempt));
        continue;
      }
      throw new IssuerError('unreachable', `issuer unreachable (${what} ${new URL(url).origin})`, {
        cause,
      });
    }
    if (response.ok) return (await response.json()) as T;
    const retryable = response.status >= 500 || response.status === 429;
    if (retryable && attempt < options.retries) {
      await response.body?.cancel();
      await delay(backoffMs(attempt));
      continue;
    }
    throw await IssuerError.fromResponse(response, what);
  }
}

export const defaultCallOptions: CallOptions = { timeoutMs: 10_000, retries: 2, fetch };

function backoffMs(attempt: number): number {
  return 200 * 2 ** attempt;
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
