import { WfidError } from '../errors.js';
import type { ExecutionRecord } from '../executions/execution.js';

/** Claims the issuer sets itself; an engine can never override them. */
export const RESERVED_CLAIMS = [
  'iss',
  'sub',
  'aud',
  'iat',
  'nbf',
  'exp',
  'jti',
  'engine',
  'execution_id',
  'workflow_id',
  'workflow_name',
  'workflow_version',
  'project_id',
  'owner',
  'mode',
  'trigger',
  'environment',
  'instance',
  'started_at',
  'status',
  // What ran, for engines that can prove it (n8n: stored code, docs/n8n.md).
  'workflow_digest',
  'published',
  'parent_execution_id',
  'parent_workflow_id',
  'root_execution_id',
  'root_workflow_id',
] as const;

/**
 * Registration fields that describe what ran and who called it. They are kept with the
 * engine's claims (same storage in every store) but only the engine's own fields can set
 * them, never `claims`.
 */
export const LINEAGE_FIELDS = [
  'workflow_digest',
  'published',
  'parent_execution_id',
  'parent_workflow_id',
  'root_execution_id',
  'root_workflow_id',
] as const;

/**
 * Members of the RFC 7662 introspection answer that are not token claims (§2.2), plus our
 * `execution_status`. The issuer sets them; a token claim may never be named like one.
 */
export const INTROSPECTION_MEMBERS = [
  'active',
  'execution_status',
  'scope',
  'client_id',
  'username',
  'token_type',
] as const;

/**
 * Names `tokens.extra_claims` may not use: the claims the issuer sets (among them every
 * registered JWT claim) and the introspection answer's own members.
 */
export const RESERVED_NAMES: ReadonlySet<string> = new Set([
  ...RESERVED_CLAIMS,
  ...INTROSPECTION_MEMBERS,
]);

/** Reserved claims that a record keeps among its `claims` (LINEAGE_FIELDS). */
const STORED_WITH_CLAIMS: ReadonlySet<string> = new Set(LINEAGE_FIELDS);

/**
 * Execution claims, in token order, from the stored record. The engine's own claims come last
 * and never replace a reserved one (the lineage fields, which the record keeps among them, are
 * the engine's own fields): registration refuses reserved names in `claims`, and this holds
 * even for a record stored some other way (an older release, a hand-edited row).
 */
export function executionClaims(record: ExecutionRecord): Record<string, unknown> {
  const own = Object.entries(record.claims).filter(
    ([name]) => STORED_WITH_CLAIMS.has(name) || !RESERVED_NAMES.has(name),
  );
  return {
    engine: record.engine,
    execution_id: record.executionId,
    workflow_id: record.workflowId,
    workflow_name: record.workflowName,
    workflow_version: record.workflowVersion,
    project_id: record.projectId,
    owner: record.owner,
    mode: record.mode,
    trigger: record.trigger,
    environment: record.environment,
    instance: record.instance,
    started_at: Math.floor(record.startedAt / 1000),
    // Spread, not assigned: a claim named __proto__ stays a claim, never the object's prototype.
    ...Object.fromEntries(own),
  };
}

/**
 * A `sub` template such as `workflow:{workflow_id}` or `repo:{project_id}:env:{environment}`,
 * compiled once at start-up. Naming a claim that tokens cannot carry is a config error then,
 * not a surprise in a verifier later.
 *
 * Verifiers match `sub` as text (`repo:shop:*` in a trust policy), so each value must stay in
 * its slot: a value holding one of the template's separators (the characters other than
 * letters and digits in its literal text) could pose as another project or environment
 * (`project_id: "shop:env:prod"`), and a missing value would leave a slot empty. Both are
 * refused with ERR_INVALID_REQUEST naming the field, when the engine registers.
 */
export function compileSubject(
  template: string,
  extraClaims: readonly string[],
): (claims: Record<string, unknown>) => string {
  const { parts, separators } = parseSubject(template, extraClaims);
  return (claims) =>
    parts
      .map((part) =>
        part.startsWith('{') ? subjectValue(part.slice(1, -1), claims, separators) : part,
      )
      .join('');
}

/**
 * Start-up check of values fixed in config (an engine credential's name, environment,
 * instance): one that does not fit the `sub` template would have every registration of that
 * engine refused, so it is a config error, prefixed with `key`.
 */
export function checkFixedSubjectValues(
  template: string,
  extraClaims: readonly string[],
  values: Record<string, string | undefined>,
  key: string,
): void {
  const { parts, separators } = parseSubject(template, extraClaims);
  for (const part of parts) {
    const name = part.slice(1, -1);
    if (!part.startsWith('{') || values[name] === undefined) continue;
    try {
      subjectValue(name, values, separators);
    } catch (err) {
      throw new WfidError('ERR_CONFIG', `${key}: ${(err as Error).message}`);
    }
  }
}

/**
 * The claims whose value can be read back from any `sub` the template renders: each side of
 * the placeholder is the start or end of the template, or literal text holding a separator
 * (which no value may contain). In `engine:{engine}:workflow:{workflow_id}` both are; in
 * `{engine}{workflow_id}` neither (engines "a" and "ab" with workflows "b1" and "1").
 */
export function delimitedSubjectClaims(template: string, extraClaims: readonly string[]): string[] {
  const { parts, separators } = parseSubject(template, extraClaims);
  const delimits = (part: string | undefined) =>
    part === undefined || (!part.startsWith('{') && [...part].some((char) => separators.has(char)));
  return parts
    .filter(
      (part, index) =>
        part.startsWith('{') && delimits(parts[index - 1]) && delimits(parts[index + 1]),
    )
    .map((part) => part.slice(1, -1));
}

function parseSubject(template: string, extraClaims: readonly string[]) {
  const known = new Set<string>([...RESERVED_CLAIMS, ...extraClaims]);
  const parts = template.split(/(\{[^{}]*\})/).filter((part) => part !== '');
  const separators = new Set<string>();
  for (const part of parts) {
    if (part.startsWith('{')) {
      const name = part.slice(1, -1);
      if (!known.has(name) || ['sub', 'iat', 'nbf', 'exp', 'jti', 'aud', 'status'].includes(name)) {
        throw new WfidError(
          'ERR_CONFIG',
          `tokens.subject: the template names an unknown claim {${name}}`,
        );
      }
    } else if (/[{}]/.test(part)) {
      throw new WfidError('ERR_CONFIG', `tokens.subject: unbalanced braces in "${template}"`);
    } else {
      for (const char of part) if (!/[\p{L}\p{N}]/u.test(char)) separators.add(char);
    }
  }
  return { parts, separators };
}

function subjectValue(name: string, claims: Record<string, unknown>, separators: Set<string>) {
  // Reserved claims are fields of the registration; the others come in its `claims` object.
  const field = (RESERVED_CLAIMS as readonly string[]).includes(name) ? name : `claims.${name}`;
  const value = claims[name];
  if (value === undefined || value === null || value === '') {
    throw new WfidError('ERR_INVALID_REQUEST', `${field}: required by the sub template`);
  }
  if (typeof value !== 'string' && typeof value !== 'number' && typeof value !== 'boolean') {
    throw new WfidError('ERR_INVALID_REQUEST', `${field}: the sub template needs a single value`);
  }
  const text = String(value);
  for (const char of text) {
    if (separators.has(char)) {
      throw new WfidError(
        'ERR_INVALID_REQUEST',
        `${field}: contains "${char}", a separator of the sub template`,
      );
    }
  }
  return text;
}
