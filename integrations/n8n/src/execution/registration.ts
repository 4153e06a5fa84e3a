import type { RegisterExecution } from '../client/issuer-client.js';

/** What n8n knows about an execution, from a hook or from a node's execution context. */
export interface N8nExecutionFacts {
  executionId: string;
  workflowId?: string;
  workflowName?: string;
  /** n8n's workflow `versionId` (changes on every save). */
  workflowVersion?: string;
  projectId?: string;
  mode?: string;
  /** Type of the node that started the execution (`n8n-nodes-base.webhook`). */
  trigger?: string;
  instanceId?: string;
}

/** Deployment-wide facts, from the environment of the n8n process. */
export interface RegistrationDefaults {
  environment?: string;
  maxDurationS?: number;
}

/**
 * The registration body for an n8n execution. Ids come only from n8n's own execution
 * context; the issuer keeps the first registration of an execution, so the hooks file
 * (which knows more, e.g. the version) and the node send compatible bodies.
 */
export function registrationFor(
  facts: N8nExecutionFacts,
  defaults: RegistrationDefaults = {},
): RegisterExecution {
  if (!facts.executionId) throw new TypeError('registration: the execution has no id yet');
  // A workflow that was never saved has no id; the issuer needs one to name the subject.
  if (!facts.workflowId)
    throw new TypeError('registration: the workflow has no id (save it first)');
  const body: RegisterExecution = {
    execution_id: String(facts.executionId),
    workflow_id: String(facts.workflowId),
  };
  const optional: Array<[keyof RegisterExecution, string | undefined]> = [
    ['workflow_name', facts.workflowName],
    ['workflow_version', facts.workflowVersion],
    ['project_id', facts.projectId],
    ['mode', facts.mode],
    ['trigger', facts.trigger],
    ['instance', facts.instanceId],
    ['environment', defaults.environment],
  ];
  for (const [name, value] of optional) {
    // The issuer accepts 1..256 characters; a longer workflow name is cut, not refused.
    if (value) (body as unknown as Record<string, string>)[name] = value.slice(0, 256);
  }
  if (defaults.maxDurationS) body.max_duration_s = defaults.maxDurationS;
  return body;
}
