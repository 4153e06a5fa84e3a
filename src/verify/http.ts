import { JwtVerificationError, type VerificationErrorCode } from './errors.js';

/** Discovery, JWKS and introspection answers are small; anything bigger is not the issuer's. */
const MAX_BODY_BYTES = 1024 * 1024;

export interface JsonAnswer {
  body: unknown;
  /** Seconds the answer may be cached, from Cache-Control max-age minus Age; absent if unsaid. */
  maxAge?: number;
}

export interface RequestSettings {
  fetch: typeof fetch;
  timeoutMs: number;
}

/**
 * One request to the issuer that must answer 200 with JSON. Every failure (network, timeout,
 * status, size, parse) becomes a JwtVerificationError of `code`, with the original as cause.
 */
export async function requestJson(
  settings: RequestSettings,
  url: string,
  code: VerificationErrorCode,
  init: RequestInit = {},
): Promise<JsonAnswer> {
  const what = `${init.method ?? 'GET'} ${url}`;
  let response: Response;
  try {
    response = await settings.fetch(url, {
      ...init,
      headers: { accept: 'application/json', ...(init.headers as Record<string, string>) },
      signal: AbortSignal.timeout(settings.timeoutMs),
    });
  } catch (cause) {
    throw new JwtVerificationError(code, `${what} failed: ${describe(cause)}`, { cause });
  }
  if (response.status !== 200) {
    await response.body?.cancel().catch(() => {});
    throw new JwtVerificationError(code, `${what} answered HTTP ${response.status}`);
  }
  let body: unknown;
  try {
    body = JSON.parse(await readCapped(response));
  } catch (cause) {
    throw new JwtVerificationError(code, `${what} gave no usable JSON: ${describe(cause)}`, {
      cause,
    });
  }
  const maxAge = maxAgeOf(response.headers);
  return maxAge === undefined ? { body } : { body, maxAge };
}

async function readCapped(response: Response): Promise<string> {
  if (Number(response.headers.get('content-length')) > MAX_BODY_BYTES) {
    await response.body?.cancel().catch(() => {});
    throw new RangeError(`body larger than ${MAX_BODY_BYTES} bytes`);
  }
  if (!response.body) return '';
  const chunks: Uint8Array[] = [];
  let size = 0;
  const reader = response.body.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > MAX_BODY_BYTES) {
      await reader.cancel().catch(() => {});
      throw new RangeError(`body larger than ${MAX_BODY_BYTES} bytes`);
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks).toString('utf8');
}

/** RFC 9111 freshness as a client sees it: max-age less the time already spent in caches. */
export function maxAgeOf(headers: Headers): number | undefined {
  const cacheControl = headers.get('cache-control');
  if (!cacheControl) return undefined;
  if (/(?:^|,)\s*no-(?:store|cache)\b/i.test(cacheControl)) return 0;
  const match = /(?:^|,)\s*max-age\s*=\s*"?(\d+)"?/i.exec(cacheControl);
  if (!match) return undefined;
  const age = Number(headers.get('age'));
  return Math.max(0, Number(match[1]) - (Number.isFinite(age) && age > 0 ? age : 0));
}

/** A URL the issuer published for us to call: http(s) only, and never a downgrade from https. */
export function checkEndpoint(value: unknown, issuer: string): string | undefined {
  if (typeof value !== 'string') return undefined;
  try {
    const url = new URL(value);
    if (url.protocol !== 'https:' && url.protocol !== 'http:') return undefined;
    if (issuer.startsWith('https:') && url.protocol !== 'https:') return undefined;
    return value;
  } catch {
    return undefined;
  }
}

export function describe(err: unknown): string {
  if (err instanceof Error) {
    const cause = err.cause instanceof Error ? ` (${err.cause.message})` : '';
    return `${err.message}${cause}`;
  }
  return String(err);
}
