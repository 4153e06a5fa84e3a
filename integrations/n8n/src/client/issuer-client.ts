import { type CallOptions, callIssuer, defaultCallOptions } from './http.js';

/** What the engine tells the issuer about an execution (DESIGN, HTTP API v1). */
export interface RegisterExecution {
  execution_id: string;
  workflow_id: string;
  workflow_name?: string;
  workflow_version?: string;
  project_id?: string;
  owner?: string;
  mode?: string;
  trigger?: string;
  environment?: string;
  /** The engine instance that runs the execution (n8n instance id). */
  instance?: string;
  /** SHA-256 of the canonical code that runs (docs/n8n.md). */
  workflow_digest?: string;
  /** True only for a published version run in a production mode. */
  published?: boolean;
  parent_execution_id?: string;
  parent_workflow_id?: string;
  root_execution_id?: string;
  root_workflow_id?: string;
  claims?: Record<string, string | number | boolean | string[]>;
  max_duration_s?: number;
}

export interface RegisteredExecution {
  execution_id: string;
  status: string;
  request_token: string;
  request_url: string;
  env: {
    WORKFLOW_ID_TOKEN?: string;
    WORKFLOW_ID_TOKEN_REQUEST_URL: string;
    WORKFLOW_ID_TOKEN_REQUEST_TOKEN: string;
  };
}

export type EndStatus = 'success' | 'error' | 'canceled' | 'crashed';

export interface ExecutionState {
  execution_id: string;
  workflow_id: string;
  status: string;
  started_at: string;
  ended_at?: string;
  deadline: string;
}

/** The answer to a resume: running again, with a fresh request token. */
export interface ResumedExecution extends ExecutionState {
  request_token: string;
  request_url: string;
}

export interface MintedToken {
  value: string;
  expires_at: number | string;
}

export interface IssuerClientOptions {
  /** Base URL of the issuer, e.g. `http://127.0.0.1:8080`. */
  url: string;
  /** Engine credential; sent only to the engine routes. */
  engineToken: string;
  /** Per-request timeout (default 10 s). */
  timeoutMs?: number;
  /** Retries of connection failures and 5xx/429 answers (default 2). */
  retries?: number;
  fetch?: typeof fetch;
}

/**
 * The issuer's engine API and token endpoint, as n8n uses them. Every call is safe to
 * retry: registration and end are idempotent on the issuer.
 *
 * @example
 * const issuer = new IssuerClient({ url: 'http://127.0.0.1:8080', engineToken });
 * const { request_token } = await issuer.register({ execution_id: '42', workflow_id: 'wf' });
 * const { value } = await issuer.mint(request_token, 'sts.amazonaws.com');
 */
export class IssuerClient {
  readonly url: string;
  readonly #engineToken: string;
  readonly #call: CallOptions;

  constructor(options: IssuerClientOptions) {
    if (!options.url) throw new TypeError('IssuerClient: url is required');
    if (!options.engineToken) throw new TypeError('IssuerClient: engineToken is required');
    this.url = options.url.replace(/\/+$/, '');
    this.#engineToken = options.engineToken;
    this.#call = {
      timeoutMs: options.timeoutMs ?? defaultCallOptions.timeoutMs,
      retries: options.retries ?? defaultCallOptions.retries,
      fetch: options.fetch ?? defaultCallOptions.fetch,
    };
  }

  /** Registers an execution, or returns a fresh request token if it is already running. */
  register(execution: RegisterExecution): Promise<RegisteredExecution> {
    return this.#engine('POST', '/v1/executions', execution);
  }

  end(executionId: string, status: EndStatus): Promise<ExecutionState> {
    return this.#engine('POST', `/v1/executions/${encodeURIComponent(executionId)}/end`, {
      status,
    });
  }

  /** Pauses a running execution (n8n Wait node): it mints nothing until it resumes. */
  wait(executionId: string): Promise<ExecutionState> {
    return this.#engine('POST', `/v1/executions/${encodeURIComponent(executionId)}/wait`, {});
  }

  /** Resumes a waiting execution; its deadline counts from now. */
  resume(executionId: string, maxDurationS?: number): Promise<ResumedExecution> {
    return this.#engine(
      'POST',
      `/v1/executions/${encodeURIComponent(executionId)}/resume`,
      maxDurationS === undefined ? {} : { max_duration_s: maxDurationS },
    );
  }

  get(executionId: string): Promise<ExecutionState> {
    return this.#engine('GET', `/v1/executions/${encodeURIComponent(executionId)}`);
  }

  /** Mints a token at this issuer for the execution that owns `requestToken`. */
  mint(
    requestToken: string,
    audience: string | string[],
    lifetimeS?: number,
  ): Promise<MintedToken> {
    return mintToken(
      { requestUrl: `${this.url}/v1/token`, requestToken, audience, lifetimeS },
      this.#call,
    );
  }

  #engine<T>(method: string, path: string, body?: unknown): Promise<T> {
    return callIssuer(method, this.url + path, this.#engineToken, body, this.#call);
  }
}

export interface MintRequest {
  /** `request_url` from the registration (the issuer's `/v1/token`). */
  requestUrl: string;
  requestToken: string;
  audience: string | string[];
  lifetimeS?: number;
}

/** POST /v1/token: the execution's own credential, no engine token involved. */
export function mintToken(
  request: MintRequest,
  options: CallOptions = defaultCallOptions,
): Promise<MintedToken> {
  const body =
    request.lifetimeS === undefined
      ? { audience: request.audience }
      : { audience: request.audience, lifetime_s: request.lifetimeS };
  return callIssuer('POST', request.requestUrl, request.requestToken, body, options);
}
