import type { IssuerClient } from '../client/issuer-client.js';
import { isIssuerError } from '../client/issuer-error.js';
import type { HooksConfig } from '../config.js';
import { endStatusOf, type N8nRunOutcome } from '../execution/end-status.js';
import { localExecutions, releaseExecution } from '../execution/local-executions.js';
import { type N8nExecutionFacts, registrationFor } from '../execution/registration.js';
import { audienceAllowed, type IdentityPolicy } from '../identity/policy.js';
import {
  IdentityRefused,
  type LocalRun,
  type ResolvedIdentity,
  type RunningFacts,
  resolveIdentity,
} from '../identity/resolve.js';
import type { WorkflowStore } from '../identity/stored-workflows.js';
import { keepExecutionTokenFile } from '../token-file/execution-token-file.js';
import { expiresAtToMs } from '../token-file/token-file-writer.js';

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
    private readonly issuer: IssuerClient | undefined,
    private readonly config: HooksConfig,
    private readonly logger: HooksLogger,
    private readonly store: WorkflowStore | undefined,
    private readonly policy: IdentityPolicy,
  ) {}

  /**
   * Finds out who the execution is (resolveIdentity: stored code only) and registers it
   * (idempotent: a resumed or re-delivered execution gets a new request token). A refused
   * execution is not registered; the node then fails with the refusal's message.
   */
  async started(facts: N8nExecutionFacts & RunningFacts): Promise<void> {
    const executionId = String(facts.executionId);
    const known = localExecutions().get(executionId);
    const local = known ?? { resources: new Set() };
    localExecutions().set(executionId, local);
    const parent =
      facts.parentExecutionId === undefined
        ? undefined
        : (localExecutions().get(facts.parentExecutionId)?.run ?? null);
    let identity: ResolvedIdentity;
    try {
      identity = await resolveIdentity(facts, this.store, this.policy, parent);
    } catch (error) {
      local.run = runOf(facts, parent, undefined);
      local.identity = undefined;
      local.refusal =
        error instanceof IdentityRefused
          ? error
          : new IdentityRefused(
              'ERR_N8N_NO_STORE',
              `cannot check the running code: ${describe(error)}`,
            );
      // A rule working as meant is news, not a fault (many executions never ask for a
      // token); failing to check at all is a fault.
      const log = error instanceof IdentityRefused ? this.logger.info : this.logger.warn;
      log.call(
        this.logger,
        `workflow-identity: no identity for this execution (${local.refusal.code})`,
        {
          executionId,
          rule: local.refusal.code,
        },
      );
      return;
    }
    local.run = runOf(facts, parent, identity);
    local.identity = identity;
    local.refusal = undefined;
    if (!this.issuer) return;
    try {
      const body = registrationFor(facts, identity, this.config);
      const registered = await this.issuer.register(body);
      local.requestUrl = registered.request_url;
      local.requestToken = registered.request_token;
      if (this.config.tokenFile?.audience && !known?.requestToken) {
        await this.#startTokenFile(executionId, identity);
      }
    } catch (error) {
      this.logger.warn('workflow-identity: could not register execution', {
        executionId,
        workflowId: identity.workflowId,
        error: describe(error),
      });
    }
  }

  /** Ends the execution with its final status, unless it only paused (Wait node). */
  async ended(executionId: string, run: N8nRunOutcome | undefined): Promise<void> {
    const status = endStatusOf(run);
    try {
      if (status === undefined) return;
      // Refused at the start: never registered, nothing to end.
      if (!this.issuer || localExecutions().get(String(executionId))?.refusal) return;
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

  async #startTokenFile(executionId: string, identity: ResolvedIdentity): Promise<void> {
    const { dir, audience, lifetimeS } = this.config.tokenFile!;
    if (!audience || !this.issuer) return;
    if (!audienceAllowed(this.policy, identity.policyProjectId, audience)) {
      this.logger.warn(
        'workflow-identity: WFID_TOKEN_FILE_AUDIENCE is not allowed for this project',
        {
          executionId,
          projectId: identity.policyProjectId,
        },
      );
      return;
    }
    const issuer = this.issuer;
    await keepExecutionTokenFile({
      dir,
      executionId,
      mint: async () => {
        const requestToken = localExecutions().get(executionId)?.requestToken;
        if (!requestToken) throw new Error('the execution is no longer registered here');
        const minted = await issuer.mint(requestToken, audience, lifetimeS);
        return { value: minted.value, expiresAtMs: expiresAtToMs(minted.expires_at) };
      },
      onError: (error) =>
        this.logger.warn('workflow-identity: token file refresh failed', {
          executionId,
          error: describe(error),
        }),
    });
  }
}

function describe(error: unknown): string {
  if (isIssuerError(error)) return `${error.code} (${error.status ?? 'no answer'})`;
  return error instanceof Error ? error.message : String(error);
}

function runOf(
  facts: RunningFacts,
  parent: LocalRun | null | undefined,
  identity: ResolvedIdentity | undefined,
): LocalRun {
  return {
    executionId: facts.executionId,
    code: facts.code,
    mode: facts.mode,
    rootMode: parent ? parent.rootMode : facts.mode,
    rootExecutionId: parent ? parent.rootExecutionId : facts.executionId,
    rootWorkflowId: identity?.rootWorkflowId,
    rootProjectId: parent ? parent.rootProjectId : identity?.policyProjectId,
    workflowId: identity?.workflowId,
  };
}
