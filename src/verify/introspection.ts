import type { IssuerDiscovery } from './discovery.js';
import { JwtVerificationError } from './errors.js';
import { type RequestSettings, requestJson } from './http.js';

export interface IntrospectionSettings extends RequestSettings {
  cacheTtlMs: number;
  now: () => number;
}

/** Past this many cached answers, expired ones are swept (and all of them if none expired). */
const MAX_CACHED = 10_000;

/**
 * Asks the issuer (RFC 7662) whether a token's execution is still running. Answers are
 * reused for a few seconds per token id, and concurrent checks of one token share a request,
 * so a burst of calls carrying the same token costs the issuer one introspection.
 */
export class ExecutionStatusCheck {
  private readonly answers = new Map<string, { running: boolean; until: number }>();
  private readonly inflight = new Map<string, Promise<boolean>>();

  constructor(
    private readonly settings: IntrospectionSettings,
    private readonly discovery: IssuerDiscovery,
  ) {}

  /**
   * Resolves if the execution runs; rejects with ERR_EXECUTION_NOT_RUNNING if the issuer says
   * otherwise, or ERR_INTROSPECTION_FAILED if it cannot say (fail closed).
   * `tokenId` is the token's `jti`, or another value unique to the token.
   */
  async assertRunning(token: string, tokenId: string): Promise<void> {
    const cached = this.answers.get(tokenId);
    const running =
      cached && this.settings.now() < cached.until
        ? cached.running
        : await this.ask(token, tokenId);
    if (!running) {
      throw new JwtVerificationError(
        'ERR_EXECUTION_NOT_RUNNING',
        'the issuer reports the token inactive or its execution no longer running',
      );
    }
  }

  private ask(token: string, tokenId: string): Promise<boolean> {
    let pending = this.inflight.get(tokenId);
    if (!pending) {
      pending = this.introspect(token).finally(() => this.inflight.delete(tokenId));
      this.inflight.set(tokenId, pending);
    }
    return pending.then((running) => {
      this.remember(tokenId, running);
      return running;
    });
  }

  private async introspect(token: string): Promise<boolean> {
    let endpoint: string | undefined;
    try {
      endpoint = (await this.discovery.metadata()).introspectionEndpoint;
    } catch (cause) {
      throw new JwtVerificationError('ERR_INTROSPECTION_FAILED', 'issuer discovery failed', {
        cause,
      });
    }
    if (!endpoint) {
      throw new JwtVerificationError(
        'ERR_INTROSPECTION_FAILED',
        'the issuer publishes no introspection_endpoint',
      );
    }
    const { body } = await requestJson(this.settings, endpoint, 'ERR_INTROSPECTION_FAILED', {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ token }).toString(),
    });
    const answer = body as { active?: unknown; execution_status?: unknown } | null;
    if (typeof answer !== 'object' || answer === null || typeof answer.active !== 'boolean') {
      throw new JwtVerificationError(
        'ERR_INTROSPECTION_FAILED',
        'the introspection answer lacks a boolean active',
      );
    }
    return answer.active && answer.execution_status === 'running';
  }

  private remember(tokenId: string, running: boolean): void {
    if (this.settings.cacheTtlMs === 0) return;
    const now = this.settings.now();
    if (this.answers.size >= MAX_CACHED) {
      for (const [id, answer] of this.answers) if (answer.until <= now) this.answers.delete(id);
      if (this.answers.size >= MAX_CACHED) this.answers.clear();
    }
    this.answers.set(tokenId, { running, until: now + this.settings.cacheTtlMs });
  }
}
