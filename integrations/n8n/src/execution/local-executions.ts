import type { IdentityRefused, LocalRun, ResolvedIdentity } from '../identity/resolve.js';

/** Something that lives as long as one execution and is stopped when it ends (token files). */
export interface ExecutionResource {
  stop(): Promise<void>;
}

/** What this n8n process knows about one of its running executions. */
export interface LocalExecution {
  /** What runs, for the sub-executions it starts (set by the hooks). */
  run?: LocalRun;
  /** Who the hooks found it to be, or why it gets no token. */
  identity?: ResolvedIdentity;
  refusal?: IdentityRefused;
  /** Set once the issuer registered it. */
  requestUrl?: string;
  requestToken?: string;
  /**
   * Waits for the hooks' registration (it may still be under way: an execution's start waits
   * for the issuer only up to a budget) and tries once more if it failed; set by the hooks.
   */
  registered?: () => Promise<void>;
  /** The registration under way, if any (it never rejects). */
  registering?: Promise<void>;
  /** Why the last registration attempt failed (a code and status, never a token). */
  registrationError?: string;
  resources: Set<ExecutionResource>;
}

const KEY = Symbol.for('workflow-identity.n8n.local-executions');

/**
 * The executions this process saw start, keyed by n8n execution id. The hooks file fills
 * it when an execution starts; the node reads the request token from it, so a workflow
 * needs no engine credential when the hooks file runs in the same process (main, or the
 * worker in queue mode). n8n may load the hooks file and the node from different copies of
 * this package, hence one map per process under a global symbol.
 */
export function localExecutions(): Map<string, LocalExecution> {
  const holder = globalThis as { [KEY]?: Map<string, LocalExecution> };
  holder[KEY] ??= new Map();
  return holder[KEY];
}

/** Ties a resource to an execution; returns false when the execution is not known here. */
export function attachToExecution(executionId: string, resource: ExecutionResource): boolean {
  const execution = localExecutions().get(executionId);
  if (!execution) return false;
  execution.resources.add(resource);
  return true;
}

/** Forgets an execution and stops what was tied to it. */
export async function releaseExecution(executionId: string): Promise<void> {
  const execution = localExecutions().get(executionId);
  if (!execution) return;
  localExecutions().delete(executionId);
  await Promise.allSettled([...execution.resources].map((resource) => resource.stop()));
}
