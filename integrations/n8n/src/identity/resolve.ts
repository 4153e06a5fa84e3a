import type { IdentityPolicy } from './policy.js';
import type { WorkflowStore } from './stored-workflows.js';
import type { StoredNode, WorkflowCode } from './workflow-digest.js';
import { workflowDigest } from './workflow-digest.js';

/** What n8n hands the hooks (or the node) about an execution that starts. */
export interface RunningFacts {
  executionId: string;
  mode?: string;
  /** The id n8n's context carries. Not trusted: an inline sub-workflow's JSON sets it. */
  workflowId?: string;
  /** The nodes and connections that actually run. */
  code: WorkflowCode;
  /** n8n's parentExecution of a sub-execution (set by n8n, not by the workflow author). */
  parentExecutionId?: string;
}

/** An execution this process saw start: what ran and who it was found to be. */
export interface LocalRun {
  executionId: string;
  code: WorkflowCode;
  /** This execution's own mode (its sub-executions run drafts when it is manual or chat). */
  mode?: string;
  rootMode?: string;
  rootExecutionId: string;
  /** Only when the root execution's identity was proven from stored code. */
  rootWorkflowId?: string;
  /** The root workflow's n8n project, with rootWorkflowId. */
  rootProjectId?: string;
  /** The workflow id registered for this execution, if any. */
  workflowId?: string;
}

/** The identity the issuer registers: every field proven here, none read from the workflow's JSON. */
export interface ResolvedIdentity {
  workflowId: string;
  workflowName?: string;
  workflowVersion?: string;
  projectId?: string;
  /**
   * The project whose audience allowlist (WFID_N8N_PROJECT_AUDIENCES) applies: the
   * workflow's own, or for a caller-derived identity its root workflow's (which has no
   * project_id claim of its own, and must not fall back to the list of unlisted projects).
   */
  policyProjectId?: string;
  digest: string;
  /** The code is the published version and no draft run started the chain. */
  published: boolean;
  /** True: `workflowId` is a stored workflow whose code is what runs. False: caller-derived. */
  stored: boolean;
  rootMode?: string;
  rootExecutionId: string;
  rootWorkflowId?: string;
  parentExecutionId?: string;
  parentWorkflowId?: string;
}

export type RefusalCode =
  | 'ERR_N8N_NOT_STORED_CODE'
  | 'ERR_N8N_UNKNOWN_CALLER'
  | 'ERR_N8N_MANUAL_REFUSED'
  | 'ERR_N8N_UNPUBLISHED_REFUSED'
  | 'ERR_N8N_NO_STORE';

/** No token for this execution; the message names the rule and how an operator changes it. */
export class IdentityRefused extends Error {
  constructor(
    readonly code: RefusalCode,
    message: string,
  ) {
    super(`workflow-identity (${code}): ${message}`);
    this.name = 'IdentityRefused';
  }
}

/**
 * Top-level modes n8n starts by itself for the published version: production webhooks,
 * triggers and pollers, and error workflows (n8n loads their published version). Only chains
 * rooted here can be `published: true`; every other mode is a run a user starts (or one this
 * code does not know), which says `published: false` and WFID_N8N_REFUSE_MANUAL refuses.
 */
const PRODUCTION_MODES = new Set(['webhook', 'trigger', 'error']);
/**
 * Top-level modes that run the saved draft: manual and chat runs, `n8n execute`, and
 * evaluations (n8n's test runner runs the draft with a test case pinned on its trigger).
 */
const DRAFT_MODES = new Set(['manual', 'chat', 'cli', 'evaluation']);
/** A sub-workflow runs its draft when its caller runs in one of these (isManualOrChatExecution). */
const DRAFT_CALLER_MODES = new Set(['manual', 'chat']);

/**
 * Which stored code n8n runs for this execution: the published version for production modes
 * and for sub-workflows of any caller but a manual or chat run (n8n's executeWorkflow passes
 * the caller's own mode, so a grandchild runs published code); the draft for draft modes and
 * sub-workflows of manual or chat runs. A retry resumes a failed execution with the run data
 * it saved (a manual run's, pinned or sent as a partial run's `runData`) and runs either that
 * execution's saved code or, "with the currently saved workflow", the draft
 * (ExecutionService.retry): either version may match, as for a mode not known here.
 */
function versionsRun(
  facts: RunningFacts,
  parent: LocalRun | null | undefined,
): Array<'draft' | 'published'> {
  if (parent) {
    return parent.mode !== undefined && DRAFT_CALLER_MODES.has(parent.mode)
      ? ['draft']
      : ['published'];
  }
  if (facts.mode !== undefined && PRODUCTION_MODES.has(facts.mode)) return ['published'];
  if (facts.mode !== undefined && DRAFT_MODES.has(facts.mode)) return ['draft'];
  return ['published', 'draft'];
}

/**
 * Who an execution is. A workflow id is asserted only when the code that runs equals that
 * workflow's stored code in n8n's database: the published version or the draft, whichever
 * n8n runs for this execution. `published` is true only for the published version in a
 * chain that no draft run started. Inline, URL and file sub-workflows, and any mismatch,
 * never carry the id written in their JSON.
 *
 * `parent` is the caller's LocalRun for a sub-execution (undefined when not a sub-execution,
 * null when n8n names a parent this process never saw).
 */
export async function resolveIdentity(
  facts: RunningFacts,
  store: WorkflowStore | undefined,
  policy: IdentityPolicy,
  parent?: LocalRun | null,
): Promise<ResolvedIdentity> {
  const isSub =
    parent === null || facts.parentExecutionId !== undefined || facts.mode === 'integrated';
  if (isSub && !parent) {
    throw new IdentityRefused(
      'ERR_N8N_UNKNOWN_CALLER',
      'this sub-workflow’s caller is unknown to this process (only the hooks file, EXTERNAL_HOOK_FILES, can tell a stored sub-workflow from inline code); no token',
    );
  }
  const rootMode = parent ? parent.rootMode : facts.mode;
  const draftRun = rootMode === undefined || !PRODUCTION_MODES.has(rootMode);
  if (draftRun && policy.refuseManual) {
    throw new IdentityRefused(
      'ERR_N8N_MANUAL_REFUSED',
      `runs a user starts (mode ${rootMode}) get no token (WFID_N8N_REFUSE_MANUAL=true)`,
    );
  }
  const lineage = {
    rootMode,
    rootExecutionId: parent ? parent.rootExecutionId : facts.executionId,
    parentExecutionId: parent?.executionId,
    parentWorkflowId: parent?.workflowId,
  };
  const digest = workflowDigest(facts.code);

  const fromStore =
    parent && callerRunsInline(parent)
      ? undefined
      : await storedIdentity(facts, store, versionsRun(facts, parent), draftRun);
  if (fromStore) {
    if (!fromStore.published && policy.refuseUnpublished) {
      throw new IdentityRefused(
        'ERR_N8N_UNPUBLISHED_REFUSED',
        'code that is not a published version gets no token (WFID_N8N_REFUSE_UNPUBLISHED=true)',
      );
    }
    return {
      ...fromStore,
      policyProjectId: fromStore.projectId,
      ...lineage,
      rootWorkflowId: parent ? parent.rootWorkflowId : fromStore.workflowId,
    };
  }

  const rootWorkflowId = parent ? parent.rootWorkflowId : undefined;
  if (policy.inline !== 'caller' || !rootWorkflowId) {
    throw new IdentityRefused(
      'ERR_N8N_NOT_STORED_CODE',
      'this code is not a stored workflow (an inline, URL or file sub-workflow, or code that differs from the stored version): no workflow id is asserted for it and no token is issued' +
        (policy.inline === 'caller'
          ? ' (its root workflow has no proven identity either)'
          : ' (WFID_N8N_INLINE_IDENTITY=caller gives it an identity derived from its root workflow)'),
    );
  }
  if (policy.refuseUnpublished) {
    throw new IdentityRefused(
      'ERR_N8N_UNPUBLISHED_REFUSED',
      'inline code is never a published version (WFID_N8N_REFUSE_UNPUBLISHED=true)',
    );
  }
  return {
    workflowId: `${rootWorkflowId}.inline`,
    policyProjectId: parent?.rootProjectId,
    digest,
    published: false,
    stored: false,
    ...lineage,
    rootWorkflowId,
  };
}

type StoredPart = Pick<
  ResolvedIdentity,
  | 'workflowId'
  | 'workflowName'
  | 'workflowVersion'
  | 'projectId'
  | 'digest'
  | 'published'
  | 'stored'
>;

async function storedIdentity(
  facts: RunningFacts,
  store: WorkflowStore | undefined,
  versions: Array<'draft' | 'published'>,
  draftRoot: boolean,
): Promise<StoredPart | undefined> {
  if (!store) {
    throw new IdentityRefused(
      'ERR_N8N_NO_STORE',
      'n8n’s workflow repository is not reachable from here, so the running code cannot be checked against the stored workflow; no token',
    );
  }
  if (!facts.workflowId) return undefined;
  const stored = await store.load(facts.workflowId);
  if (!stored) return undefined;
  const version = versions.find((name) => {
    const code = stored[name];
    return code !== undefined && store.sameCode(facts.code, code);
  });
  if (!version) return undefined;
  const expected = stored[version]!;
  const draftCode = version === 'draft';
  return {
    workflowId: stored.id,
    workflowName: stored.name,
    workflowVersion: expected.versionId,
    projectId: stored.projectId,
    // The digest of the stored form, so anyone can recompute it from an export.
    digest: workflowDigest(expected),
    published: !draftCode && !draftRoot,
    stored: true,
  };
}

/**
 * Whether the caller could have started this sub-execution from code in its own parameters
 * (an Execute Workflow or workflow tool node with source "Define below", URL or local file).
 * Any such node in the caller counts, not just the one running now: a sub-workflow started
 * without waiting begins after its node has finished, so "the node running now" can already
 * be another one.
 */
export function callerRunsInline(parent: LocalRun): boolean {
  return parent.code.nodes.some(runsOwnCode);
}

function runsOwnCode(node: StoredNode): boolean {
  const source = (node.parameters as { source?: unknown } | undefined)?.source;
  return source !== undefined && source !== 'database';
}
