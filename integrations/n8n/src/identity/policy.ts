/** The operator's rules for which n8n code gets a token (hooks and node read the same env). */
export interface IdentityPolicy {
  /** No token for runs of the draft (manual, chat, `n8n execute`, and their sub-workflows). */
  refuseManual: boolean;
  /** No token for code that is not a published version. */
  refuseUnpublished: boolean;
  /**
   * Inline / URL / file sub-workflows and code that differs from the stored version:
   * `refuse` (default) or `caller`: an identity derived from the root workflow,
   * `<root workflow id>.inline` (a `.`, not a `:`, so it fits the default sub
   * template `workflow:{workflow_id}`), never the id written in the code.
   */
  inline: 'refuse' | 'caller';
  /** n8n project id (or `*`) -> the audiences its executions may ask for. */
  projectAudiences?: Record<string, string[]>;
}

/**
 * WFID_N8N_REFUSE_MANUAL, WFID_N8N_REFUSE_UNPUBLISHED (true/false),
 * WFID_N8N_INLINE_IDENTITY (refuse | caller), WFID_N8N_PROJECT_AUDIENCES (JSON object).
 */
export function identityPolicyFromEnv(env: NodeJS.ProcessEnv = process.env): IdentityPolicy {
  const inline = env.WFID_N8N_INLINE_IDENTITY || 'refuse';
  if (inline !== 'refuse' && inline !== 'caller') {
    throw new Error('WFID_N8N_INLINE_IDENTITY: expected refuse or caller');
  }
  return {
    refuseManual: flag(env, 'WFID_N8N_REFUSE_MANUAL'),
    refuseUnpublished: flag(env, 'WFID_N8N_REFUSE_UNPUBLISHED'),
    inline,
    projectAudiences: projectAudiences(env.WFID_N8N_PROJECT_AUDIENCES),
  };
}

/** Whether the policy lets an execution of `projectId` ask for `audience`. */
export function audienceAllowed(
  policy: IdentityPolicy,
  projectId: string | undefined,
  audience: string,
): boolean {
  const allowed =
    (projectId !== undefined ? policy.projectAudiences?.[projectId] : undefined) ??
    policy.projectAudiences?.['*'];
  return allowed === undefined || allowed.includes(audience);
}

function projectAudiences(raw: string | undefined): Record<string, string[]> | undefined {
  if (!raw) return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    throw new Error('WFID_N8N_PROJECT_AUDIENCES: not JSON');
  }
  const valid =
    parsed !== null &&
    typeof parsed === 'object' &&
    !Array.isArray(parsed) &&
    Object.values(parsed).every(
      (list) => Array.isArray(list) && list.every((item) => typeof item === 'string' && item),
    );
  if (!valid) {
    throw new Error(
      'WFID_N8N_PROJECT_AUDIENCES: expected {"<project id>": ["audience", ...], "*": [...]}',
    );
  }
  return parsed as Record<string, string[]>;
}

export function flag(env: NodeJS.ProcessEnv, name: string): boolean {
  const raw = (env[name] ?? '').toLowerCase();
  if (['', '0', 'false', 'no', 'off'].includes(raw)) return false;
  if (['1', 'true', 'yes', 'on'].includes(raw)) return true;
  throw new Error(`${name}: expected true or false`);
}
