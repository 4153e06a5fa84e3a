import { JwtVerificationError, type VerificationErrorCode } from './errors.js';

/** Discovery, JWKS, introspection and status list answers are small; anything bigger is not the issuer's. */
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

/** Same-origin redirects followed per request, at most (a moved path, a trailing slash). */
const MAX_REDIRECTS = 3;
const REDIRECT_STATUSES = new Set([301, 302, 303, 307, 308]);

/**
 * One request to the issuer that must answer 200 with JSON. Every failure (network, timeout,
 * status, size, parse) becomes a JwtVerificationError of `code`, with the original as cause.
 *
 * Redirects are followed by hand (`redirect: 'manual'`) and only within the origin of the URL
 * asked for: a redirect to another host, port or scheme (https to http included) would make
 * the verifier trust keys, or send a token, somewhere the issuer did not publish. Such a
 * redirect fails with ERR_REDIRECT_REFUSED and nothing is sent there. A POST follows only 307
 * and 308, which keep its method and body.
 */
export async function requestJson(
  settings: RequestSettings,
  url: string,
  code: VerificationErrorCode,
  init: RequestInit = {},
): Promise<JsonAnswer> {
  const answer = await requestText(settings, url, code, 'application/json', init);
  let body: unknown;
  try {
    body = JSON.parse(answer.text);
  } catch (cause) {
    throw new JwtVerificationError(
      code,
      `${init.method ?? 'GET'} ${answer.url} gave no usable JSON: ${describe(cause)}`,
      { cause },
    );
  }
  return answer.maxAge === undefined ? { body } : { body, maxAge: answer.maxAge };
}

export interface TextAnswer {
  text: string;
  contentType: string;
  /** The URL that answered, after same-origin redirects. */
  url: string;
  maxAge?: number;
}

/** As {@link requestJson}, for a body of another media type (`accept`), returned as text. */
export async function requestText(
  settings: RequestSettings,
  url: string,
  code: VerificationErrorCode,
  accept: string,
  init: RequestInit = {},
): Promise<TextAnswer> {
  const method = init.method ?? 'GET';
  let origin: string;
  try {
    origin = new URL(url).origin;
  } catch (cause) {
    throw new JwtVerificationError(code, `${method} ${url}: not a URL`, { cause });
  }
  let target = url;
  let response: Response;
  for (let redirects = 0; ; redirects++) {
    const what = `${method} ${target}`;
    try {
      response = await settings.fetch(target, {
        ...init,
        redirect: 'manual',
        headers: { accept, ...(init.headers as Record<string, string>) },
        signal: AbortSignal.timeout(settings.timeoutMs),
      });
    } catch (cause) {
      throw new JwtVerificationError(code, `${what} failed: ${describe(cause)}`, { cause });
    }
    // A fetch that follows redirects whatever it is told (a custom one) must not have left.
    if (response.redirected && response.url && new URL(response.url).origin !== origin) {
      await discard(response);
      throw refused(what, `was redirected to ${new URL(response.url).origin}`);
    }
    // A browser-style fetch hides the target of a manual redirect: it cannot be checked.
    if (response.type === 'opaqueredirect') {
      throw refused(what, 'answered a redirect whose target cannot be checked');
    }
    if (!REDIRECT_STATUSES.has(response.status)) break;
    await discard(response);
    const location = response.headers.get('location');
    let next: URL | undefined;
    try {
      next = location === null ? undefined : new URL(location, target);
    } catch {
      next = undefined;
    }
    if (!next) throw refused(what, `answered HTTP ${response.status} without a usable Location`);
    if (next.origin !== origin) {
      throw refused(what, `answered HTTP ${response.status} to another origin (${next.origin})`);
    }
    if (method !== 'GET' && response.status !== 307 && response.status !== 308) {
      throw refused(
        what,
        `answered HTTP ${response.status}, which would turn the ${method} into a GET`,
      );
    }
    if (redirects >= MAX_REDIRECTS)
      throw refused(what, `redirected more than ${MAX_REDIRECTS} times`);
    target = next.href;
  }
  const what = `${method} ${target}`;
  if (response.status !== 200) {
    await discard(response);
    throw new JwtVerificationError(code, `${what} answered HTTP ${response.status}`);
  }
  let text: string;
  try {
    text = await readCapped(response);
  } catch (cause) {
    throw new JwtVerificationError(code, `${what} gave no usable body: ${describe(cause)}`, {
      cause,
    });
  }
  const answer = { text, contentType: response.headers.get('content-type') ?? '', url: target };
  const maxAge = maxAgeOf(response.headers);
  return maxAge === undefined ? answer : { ...answer, maxAge };
}

function refused(what: string, why: string): JwtVerificationError {
  return new JwtVerificationError('ERR_REDIRECT_REFUSED', `${what} ${why}; not followed`);
}

async function discard(response: Response): Promise<void> {
  await response.body?.cancel().catch(() => {});
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
