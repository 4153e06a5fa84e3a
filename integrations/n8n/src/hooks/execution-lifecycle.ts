import type { EndStatus, IssuerClient } from '../client/issuer-client.js';
import { isIssuerError } from '../client/issuer-error.js';
import type { HooksConfig } from '../config.js';
import { endStatusOf, type N8nRunOutcome } from '../execution/end-status.js';
import {
  type LocalExecution,
  localExecutions,
  releaseExecution,
} from '../execution/local-executions.js';
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
   * Finds out who the execution is (resolveIdentity: stored code only) and registers it, or
   * resumes it at the issuer when `resumed` (a Wait node's execution going on). A refused
   * execution is not registered; the node then fails with the refusal's message. Waits for
   * the issuer at most `startBudgetMs`: a slow or down issuer never holds up the start, the
   * registration goes on in the background and the node's first token request awaits it
   * (and retries it once if it failed).
   */
  async started(facts: N8nExecutionFacts & RunningFacts, resumed = false): Promise<void> {
    const executionId = String(facts.executionId);
    const local: LocalExecution = localExecutions().get(executionId) ?? { resources: new Set() };
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
    const issuer = this.issuer;
    const attempt = () => {
      const work: Promise<void> = this.#register(issuer, facts, identity, local, resumed).finally(
        () => {
          if (local.registering === work) local.registering = undefined;
        },
      );
      local.registering = work;
      return work;
    };
    let pending = attempt();
    local.registered = async () => {
      await pending;
      if (local.requestToken) return;
      pending = attempt();
      await pending;
    };
    await settledWithin(pending, this.config.startBudgetMs);
  }

  /**
   * Ends the execution with its final status, or pauses it at the issuer when it only waits
   * (Wait, Form, "send and wait" nodes): it resumes later, maybe in another process, under the
   * same id. With `onlyStartedHere` (lifecycle handlers, which also run on a queue-mode main
   * that never ran the execution) only executions this process started are ended.
   */
  async ended(
    executionId: string,
    run: N8nRunOutcome | undefined,
    onlyStartedHere = false,
  ): Promise<void> {
    const status = endStatusOf(run);
    const local = localExecutions().get(executionId);
    if (onlyStartedHere && !local) return;
    try {
      // Refused at the start: never registered, nothing to end.
      if (!this.issuer || local?.refusal) return;
      const issuer = this.issuer;
      if (local?.registering) {
        // A slow issuer is still registering it: end (or pause) it once that lands, without
        // holding up n8n meanwhile.
        void local.registering.then(() =>
          local.requestToken ? this.#report(issuer, executionId, status) : undefined,
        );
        return;
      }
      // Never registered here (the issuer was down at start): nothing to end.
      if (local && !local.requestToken) return;
      await this.#report(issuer, executionId, status);
    } finally {
      await releaseExecution(executionId);
    }
  }

  /** Ends the execution at the issuer, or pauses it (`status` undefined: it waits). */
  async #report(
    issuer: IssuerClient,
    executionId: string,
    status: EndStatus | undefined,
  ): Promise<void> {
    try {
      if (status === undefined) await issuer.wait(executionId);
      else await issuer.end(executionId, status);
    } catch (error) {
      // Never registered (an unsaved workflow, the issuer was down at start): nothing to end.
      if (isIssuerError(error) && error.status === 404) return;
      this.logger.warn(`workflow-identity: could not ${status ? 'end' : 'pause'} execution`, {
        executionId,
        status: status ?? 'waiting',
        error: describe(error),
      });
    }
  }

  async #register(
    issuer: IssuerClient,
    facts: N8nExecutionFacts & RunningFacts,
    identity: ResolvedIdentity,
    local: LocalExecution,
    resumed: boolean,
  ): Promise<void> {
    const executionId = String(facts.executionId);
    try {
      let access: { request_url: string; request_token: string };
      try {
        access = resumed
          ? await issuer.resume(executionId, this.config.maxDurationS)
          : await issuer.register(registrationFor(facts, identity, this.config));
      } catch (error) {
        // Paused while the issuer was unreachable (never registered): register it now.
        if (!(resumed && isIssuerError(error) && error.status === 404)) throw error;
        access = await issuer.register(registrationFor(facts, identity, this.config));
      }
      const first = !local.requestToken;
      local.requestUrl = access.request_url;
      local.requestToken = access.request_token;
      local.registrationError = undefined;
      // Not for an execution that already stopped while a slow issuer answered.
      const current = localExecutions().get(executionId) === local;
      if (this.config.tokenFile?.audience && first && current) {
        await this.#startTokenFile(executionId, identity);
      }
    } catch (error) {
      local.registrationError = describe(error);
      this.logger.warn('workflow-identity: could not register execution', {
        executionId,
        workflowId: identity.workflowId,
        error: local.registrationError,
      });
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

/** Waits for `work` (which never rejects) at most `ms`. */
async function settledWithin(work: Promise<void>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const budget = new Promise<void>((resolve) => {
    timer = setTimeout(resolve, ms);
  });
  try {
    await Promise.race([work, budget]);
  } finally {
    clearTimeout(timer);
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
