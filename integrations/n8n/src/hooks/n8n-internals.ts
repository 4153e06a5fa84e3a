import { createRequire } from 'node:module';
import type { N8nRunOutcome } from '../execution/end-status.js';
import type { N8nExecutionFacts } from '../execution/registration.js';
import type { RunningFacts } from '../identity/resolve.js';
import type { StoredNode } from '../identity/workflow-digest.js';

/**
 * n8n's external hooks do not give the execution id at the start of an execution
 * (n8n 2.x: `workflow.preExecute(workflow, mode, context, source)` runs before the
 * execution exists). n8n's own modules get it from lifecycle handlers
 * (`@OnLifecycleEvent('workflowExecuteBefore')`, registered in `LifecycleMetadata` of
 * `@n8n/decorators` and read for every execution on main, workers and sub-executions).
 * We register one the same way, through the n8n process's own DI container. This is
 * n8n-internal API: every step is feature-checked, and without it the node registers the
 * execution at its first token request instead.
 */

interface LifecycleContext {
  workflow?: { id?: string; nodes?: StoredNode[]; connections?: unknown };
  mode?: string;
  executionId?: string;
  /**
   * The Workflow that runs; n8n passes none where it only hands the execution on (a
   * queue-mode main or webhook processor enqueueing it, a run that failed before starting).
   */
  workflowInstance?: unknown;
  /** workflowExecuteAfter: the run with n8n's final status (set before module handlers). */
  runData?: N8nRunOutcome;
  executionData?: {
    /** Set by n8n's executeWorkflow for sub-executions (not by the workflow's JSON). */
    parentExecution?: { executionId?: string };
    executionData?: { nodeExecutionStack?: Array<{ node?: { type?: string } }> };
  };
}

interface N8nModules {
  Container: { get(type: unknown): unknown; set(type: unknown, instance: unknown): void };
  LifecycleMetadata: unknown;
  InstanceSettings?: unknown;
}

/** Resolves modules from the running n8n, not from this package (it has no n8n of its own). */
function loadN8nModules(): N8nModules | undefined {
  const main = require.main?.filename;
  if (!main) return undefined;
  try {
    const n8nRequire = createRequire(main);
    const di = n8nRequire('@n8n/di') as { Container?: N8nModules['Container'] };
    const decorators = n8nRequire('@n8n/decorators') as { LifecycleMetadata?: unknown };
    if (!di.Container || !decorators.LifecycleMetadata) return undefined;
    let InstanceSettings: unknown;
    try {
      InstanceSettings = (n8nRequire('n8n-core') as { InstanceSettings?: unknown })
        .InstanceSettings;
    } catch {
      InstanceSettings = undefined;
    }
    return {
      Container: di.Container,
      LifecycleMetadata: decorators.LifecycleMetadata,
      InstanceSettings,
    };
  } catch {
    return undefined;
  }
}

export interface LifecycleListener {
  /** An execution starts running in this process (`resumed`: after a Wait node). */
  started(facts: N8nExecutionFacts & RunningFacts, resumed: boolean): Promise<void>;
  /** An execution stopped in this process: ended, or paused (`runData` says which). */
  stopped(executionId: string, run: N8nRunOutcome | undefined): Promise<void>;
}

/**
 * Calls `listener` where each execution really runs: on a regular main, on the queue-mode
 * worker that took the job, for sub-executions; never for a queue-mode main or webhook
 * processor that only enqueues it. Unlike the external `workflow.postExecute` hook, the
 * end handler does not make a queue-mode main load every job's full execution data
 * (n8n's WorkflowRunner.needsFullExecutionData). Returns false when this n8n does not offer
 * lifecycle handlers.
 */
export function onExecutionLifecycle(listener: LifecycleListener): boolean {
  const modules = loadN8nModules();
  if (!modules) return false;
  const metadata = modules.Container.get(modules.LifecycleMetadata) as {
    register?: (handler: { handlerClass: unknown; methodName: string; eventName: string }) => void;
  };
  if (typeof metadata?.register !== 'function') return false;

  const instanceId = () => {
    try {
      const settings = modules.Container.get(modules.InstanceSettings) as { instanceId?: string };
      return settings?.instanceId;
    } catch {
      return undefined;
    }
  };
  class WorkflowIdentityLifecycle {
    async start(context: LifecycleContext): Promise<void> {
      await this.#started(context, false);
    }

    async resume(context: LifecycleContext): Promise<void> {
      await this.#started(context, true);
    }

    async stop(context: LifecycleContext): Promise<void> {
      if (!context.executionId) return;
      await listener.stopped(String(context.executionId), context.runData);
    }

    async #started(context: LifecycleContext, resumed: boolean): Promise<void> {
      if (!context.executionId || !context.workflowInstance) return;
      const parent = context.executionData?.parentExecution?.executionId;
      await listener.started(
        {
          executionId: String(context.executionId),
          workflowId: context.workflow?.id === undefined ? undefined : String(context.workflow.id),
          code: {
            nodes: context.workflow?.nodes ?? [],
            connections: context.workflow?.connections ?? {},
          },
          parentExecutionId: parent === undefined ? undefined : String(parent),
          mode: context.mode,
          trigger: context.executionData?.executionData?.nodeExecutionStack?.[0]?.node?.type,
          instanceId: instanceId(),
        },
        resumed,
      );
    }
  }
  // Registered as an instance: n8n's container only builds classes decorated with @Service.
  modules.Container.set(WorkflowIdentityLifecycle, new WorkflowIdentityLifecycle());
  const handlers = [
    ['workflowExecuteBefore', 'start'],
    ['workflowExecuteResume', 'resume'],
    ['workflowExecuteAfter', 'stop'],
  ];
  for (const [eventName, methodName] of handlers) {
    metadata.register({ handlerClass: WorkflowIdentityLifecycle, methodName, eventName });
  }

  return true;
}

type GetDecrypted = (
  additionalData: { executionId?: string } | undefined,
  nodeCredentials: unknown,
  type: string,
  ...rest: unknown[]
) => Promise<Record<string, unknown>>;

/**
 * Wraps n8n's CredentialsHelper.getDecrypted so that credentials of `types`, decrypted for a
 * running execution, carry that execution's id as n8n knows it (`additionalData.executionId`)
 * plus `bind(id)`'s proof. The credential's own stored data cannot set or change either: they
 * are written after decryption, over anything stored. n8n-internal API, feature-checked;
 * returns false when this n8n has no such method (the credentials then refuse to work).
 */
export function bindCredentialsToExecutions(
  types: string[],
  bind: (executionId: string) => Record<string, string>,
): boolean {
  const main = require.main?.filename;
  if (!main) return false;
  try {
    const { CredentialsHelper } = createRequire(main)('../dist/credentials-helper.js') as {
      CredentialsHelper?: { prototype: { getDecrypted?: GetDecrypted } };
    };
    const original = CredentialsHelper?.prototype.getDecrypted;
    if (typeof original !== 'function') return false;
    CredentialsHelper!.prototype.getDecrypted = async function (
      this: unknown,
      additionalData,
      nodeCredentials,
      type,
      ...rest
    ) {
      const data = await original.call(this, additionalData, nodeCredentials, type, ...rest);
      if (!types.includes(type) || !data || typeof data !== 'object') return data;
      // Not for a credential test or a load-options call: those run in no execution.
      delete data.executionId;
      delete data.executionProof;
      const executionId = additionalData?.executionId;
      if (executionId !== undefined && executionId !== null) {
        Object.assign(data, bind(String(executionId)));
      }
      return data;
    };
    return true;
  } catch {
    return false;
  }
}

/** n8n's logger when the hooks run inside n8n, so our lines land in n8n's log output. */
export function n8nLogger():
  | { info(m: string, meta?: object): void; warn(m: string, meta?: object): void }
  | undefined {
  const main = require.main?.filename;
  if (!main) return undefined;
  try {
    const n8nRequire = createRequire(main);
    const { Container } = n8nRequire('@n8n/di') as { Container: N8nModules['Container'] };
    const { Logger } = n8nRequire('@n8n/backend-common') as { Logger: unknown };
    return Container.get(Logger) as ReturnType<typeof n8nLogger>;
  } catch {
    return undefined;
  }
}
