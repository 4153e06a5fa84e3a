import { join } from 'node:path';
import type { IssuerClient } from '../client/issuer-client.js';
import { isIssuerError, isPermanentFailure } from '../client/issuer-error.js';
import type { HooksConfig } from '../config.js';
import { endStatusOf, type N8nRunOutcome } from '../execution/end-status.js';
import {
  attachToExecution,
  localExecutions,
  releaseExecution,
} from '../execution/local-executions.js';
import { type N8nExecutionFacts, registrationFor } from '../execution/registration.js';
import { expiresAtToMs, TokenFileWriter } from '../token-file/token-file-writer.js';

/** The log lines the hooks write: ids and error codes only, never a token. */
export interface HooksLogger {
  info(message: string, meta?: Record<string, unknown>): void;
  warn(message: string, meta?: Record<string, unknown>): void;
}

/**
 * What the hooks do at the start and end of each n8n execution. Neither throws: a hook
 * that throws fails the execution in n8n, and an unreachable issuer must not stop
 * workflows that never ask for a token (a node that does ask then fails with a clear error).
 */
export class ExecutionLifecycle {
  constructor(
    private readonly issuer: IssuerClient,
    private readonly config: HooksConfig,
    private readonly logger: HooksLogger,
  ) {}

  /** Registers the execution (idempotent: a resumed or re-delivered execution gets a new request token). */
  async started(facts: N8nExecutionFacts): Promise<void> {
    const executionId = String(facts.executionId);
    try {
      const body = registrationFor(facts, this.config);
      const registered = await this.issuer.register(body);
      const known = localExecutions().get(executionId);
      localExecutions().set(executionId, {
        requestUrl: registered.request_url,
        requestToken: registered.request_token,
        resources: known?.resources ?? new Set(),
      });
      if (this.config.tokenFile && !known) await this.#startTokenFile(executionId);
    } catch (error) {
      this.logger.warn('workflow-identity: could not register execution', {
        executionId,
        workflowId: facts.workflowId,
        error: describe(error),
      });
    }
  }

  /** Ends the execution with its final status, unless it only paused (Wait node). */
  async ended(executionId: string, run: N8nRunOutcome | undefined): Promise<void> {
    const status = endStatusOf(run);
    try {
      if (status === undefined) return;
      await this.issuer.end(String(executionId), status);
    } catch (error) {
      // Never registered (an unsaved workflow, the issuer was down at start): nothing to end.
      if (isIssuerError(error) && error.status === 404) return;
      this.logger.warn('workflow-identity: could not end execution', {
        executionId,
        status,
        error: describe(error),
      });
    } finally {
      await releaseExecution(String(executionId));
    }
  }

  async #startTokenFile(executionId: string): Promise<void> {
    const { dir, audience, lifetimeS } = this.config.tokenFile!;
    const access = localExecutions().get(executionId)!;
    const writer = new TokenFileWriter({
      path: join(dir, `${executionId}.jwt`),
      mint: async () => {
        const current = localExecutions().get(executionId) ?? access;
        const minted = await this.issuer.mint(current.requestToken, audience, lifetimeS);
        return { value: minted.value, expiresAtMs: expiresAtToMs(minted.expires_at) };
      },
      isPermanent: isPermanentFailure,
      onError: (error) =>
        this.logger.warn('workflow-identity: token file refresh failed', {
          executionId,
          error: describe(error),
        }),
    });
    await writer.start();
    attachToExecution(executionId, writer);
  }
}

function describe(error: unknown): string {
  if (isIssuerError(error)) return `${error.code} (${error.status ?? 'no answer'})`;
  return error instanceof Error ? error.message : String(error);
}
