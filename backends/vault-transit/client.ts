import { WfidError } from '../../src/errors.js';

/** The parts of a Vault/OpenBao answer the backend reads (`data` for secrets, `auth` for logins). */
export interface VaultAnswer {
  data?: Record<string, unknown>;
  auth?: VaultAuthBlock;
  warnings?: string[] | null;
}

export interface VaultAuthBlock {
  client_token: string;
  lease_duration: number;
  renewable: boolean;
}

/** A refused call, with Vault's status and its `errors` list; mapped to a WfidError by the caller. */
export class VaultRefusal extends Error {
  constructor(
    readonly status: number,
    readonly errors: string[],
    readonly path: string,
  ) {
    super(`${status} on ${path}: ${errors.join('; ') || 'no detail'}`);
    this.name = 'VaultRefusal';
  }
}

/** Seconds a client should wait when Vault is sealed: unsealing is an operator action. */
const SEALED_RETRY_S = 10;
const UNREACHABLE_RETRY_S = 5;

/**
 * A small client over Vault's documented HTTP API (global fetch): a request is one method, one
 * path under /v1 and a JSON body. The token travels only in the X-Vault-Token header and never
 * appears in an error or log line.
 */
export class VaultHttp {
  constructor(
    readonly address: string,
    readonly namespace: string | undefined,
    readonly timeoutMs: number,
  ) {}

  /**
   * Throws WfidError ERR_BACKEND_UNAVAILABLE (with retryAfter) when Vault cannot answer:
   * unreachable, timed out, sealed, standby without a leader, rate-limited. Any other refusal
   * is thrown as a VaultRefusal for the caller to classify.
   */
  async request(
    method: 'GET' | 'POST',
    path: string,
    token?: string,
    body?: object,
  ): Promise<VaultAnswer> {
    const headers: Record<string, string> = { accept: 'application/json' };
    if (token) headers['x-vault-token'] = token;
    if (this.namespace) headers['x-vault-namespace'] = this.namespace;
    if (body) headers['content-type'] = 'application/json';
    let response: Response;
    try {
      response = await fetch(`${this.address}/v1/${path}`, {
        method,
        headers,
        body: body ? JSON.stringify(body) : undefined,
        signal: AbortSignal.timeout(this.timeoutMs),
      });
    } catch (err) {
      throw new WfidError(
        'ERR_BACKEND_UNAVAILABLE',
        `Vault at ${this.address} is unreachable (${networkReason(err)})`,
        {
          cause: err,
          retryAfter: UNREACHABLE_RETRY_S,
        },
      );
    }
    const text = await response.text().catch(() => '');
    const parsed = parseJson(text);
    if (response.ok) return (parsed ?? {}) as VaultAnswer;
    const errors = Array.isArray(parsed?.errors)
      ? parsed.errors.map((entry) => String(entry).trim())
      : [];
    if (response.status === 503) {
      const sealed = errors.some((entry) => /sealed/i.test(entry));
      throw new WfidError(
        'ERR_BACKEND_UNAVAILABLE',
        sealed
          ? `Vault at ${this.address} is sealed; signing resumes once it is unsealed`
          : `Vault at ${this.address} is unavailable (503: ${errors.join('; ') || 'no active node'})`,
        { retryAfter: sealed ? SEALED_RETRY_S : UNREACHABLE_RETRY_S },
      );
    }
    if (response.status === 429) {
      const retryAfter = Number(response.headers.get('retry-after')) || 1;
      throw new WfidError(
        'ERR_BACKEND_UNAVAILABLE',
        `Vault at ${this.address} is rate-limiting requests`,
        { retryAfter },
      );
    }
    throw new VaultRefusal(response.status, errors, path);
  }
}

function parseJson(text: string): { errors?: unknown[] } | undefined {
  try {
    const value = JSON.parse(text) as unknown;
    return typeof value === 'object' && value !== null
      ? (value as { errors?: unknown[] })
      : undefined;
  } catch {
    return undefined;
  }
}

/** `ECONNREFUSED`, `ENOTFOUND`, `timeout`: what a network failure was, without request data. */
function networkReason(err: unknown): string {
  if (err instanceof Error && (err.name === 'TimeoutError' || err.name === 'AbortError'))
    return 'timed out';
  const cause = (err as { cause?: { code?: string; message?: string } }).cause;
  return cause?.code ?? cause?.message ?? (err instanceof Error ? err.message : String(err));
}
