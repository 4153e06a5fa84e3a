import type { RegisterExecution } from '../client/issuer-client.js';
import type { ResolvedIdentity } from '../identity/resolve.js';

/** What n8n itself says about an execution (never the workflow's identity: see ResolvedIdentity). */
export interface N8nExecutionFacts {
  executionId: string;
  mode?: string;
  /** Type of the node that started the execution (`n8n-nodes-base.webhook`). */
  trigger?: string;
  instanceId?: string;
}

/** Deployment-wide facts, from the environment of the n8n process. */
export interface RegistrationDefaults {
  environment?: string;
  /** Replaces n8n's instance id (WFID_N8N_INSTANCE). */
  instance?: string;
  maxDurationS?: number;
}

/**
 * The registration body for an n8n execution. The workflow's identity comes only from
 * resolveIdentity (stored code in n8n's database), the ids from n8n's own execution context.
 * `mode` is the root execution's mode, so a manual parent's sub-workflow is visibly manual.
 */
export function registrationFor(
  facts: N8nExecutionFacts,
  identity: ResolvedIdentity,
  defaults: RegistrationDefaults = {},
): RegisterExecution {
  if (!facts.executionId) throw new TypeError('registration: the execution has no id yet');
  const body: RegisterExecution = {
    execution_id: String(facts.executionId),
    workflow_id: identity.workflowId,
    workflow_digest: identity.digest,
    published: identity.published,
    root_execution_id: identity.rootExecutionId,
  };
  const optional: Array<[keyof RegisterExecution, string | undefined]> = [
    ['workflow_name', identity.workflowName],
    ['workflow_version', identity.workflowVersion],
    ['project_id', identity.projectId],
    ['mode', identity.rootMode ?? facts.mode],
    // A retry starts at the node that failed, not at a trigger: naming that node would lie.
    ['trigger', facts.mode === 'retry' ? undefined : facts.trigger],
    ['instance', defaults.instance ?? facts.instanceId],
    ['environment', defaults.environment],
    ['parent_execution_id', identity.parentExecutionId],
    ['parent_workflow_id', identity.parentWorkflowId],
    ['root_workflow_id', identity.rootWorkflowId],
  ];
  for (const [name, value] of optional) {
    // The issuer accepts 1..256 characters; a longer workflow name is cut, not refused.
    if (value) (body as unknown as Record<string, unknown>)[name] = value.slice(0, 256);
  }
  if (defaults.maxDurationS) body.max_duration_s = defaults.maxDurationS;
  return body;
}
