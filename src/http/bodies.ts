import { z } from 'zod';
import { WfidError } from '../errors.js';
import { END_STATUSES } from '../executions/execution.js';
import type { StartInput } from '../executions/registry.js';
import { LINEAGE_FIELDS, RESERVED_CLAIMS } from '../tokens/claims.js';

/** Ids travel in URLs and logs: a conservative alphabet, no control characters or slashes. */
const id = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9._:@-]{0,127}$/, 'letters, digits and ._:@- (up to 128)');
const text = z.string().min(1).max(256);
const claimValue = z.union([
  z.string().max(256),
  z.number().finite(),
  z.boolean(),
  z.array(z.string().max(256)).max(20),
]);

const startBody = z
  .object({
    execution_id: id,
    workflow_id: id,
    workflow_name: text.optional(),
    workflow_version: text.optional(),
    project_id: text.optional(),
    owner: text.optional(),
    mode: text.optional(),
    trigger: text.optional(),
    environment: text.optional(),
    instance: text.optional(),
    workflow_digest: z
      .string()
      .regex(/^sha256:[0-9a-f]{64}$/, 'sha256:<64 lowercase hex digits>')
      .optional(),
    published: z.boolean().optional(),
    parent_execution_id: id.optional(),
    parent_workflow_id: id.optional(),
    root_execution_id: id.optional(),
    root_workflow_id: id.optional(),
    claims: z.record(z.string(), claimValue).optional(),
    max_duration_s: z.number().int().min(1).optional(),
  })
  .strict();

const endBody = z.object({ status: z.enum(END_STATUSES) }).strict();
const resumeBody = z.object({ max_duration_s: z.number().int().min(1).optional() }).strict();

export function parseStartBody(body: unknown, allowedClaims: readonly string[]): StartInput {
  const input = parse(startBody, body);
  for (const name of Object.keys(input.claims ?? {})) {
    if ((RESERVED_CLAIMS as readonly string[]).includes(name)) {
      throw new WfidError(
        'ERR_INVALID_REQUEST',
        `claims.${name}: a reserved claim cannot be set by the engine`,
      );
    }
    if (!allowedClaims.includes(name)) {
      throw new WfidError('ERR_INVALID_REQUEST', `claims.${name}: not in tokens.extra_claims`);
    }
  }
  return {
    executionId: input.execution_id,
    workflowId: input.workflow_id,
    workflowName: input.workflow_name,
    workflowVersion: input.workflow_version,
    projectId: input.project_id,
    owner: input.owner,
    mode: input.mode,
    trigger: input.trigger,
    environment: input.environment,
    instance: input.instance,
    claims: withLineage(input),
    maxDurationS: input.max_duration_s,
  };
}

/** The lineage fields travel with the engine's claims (and land in tokens the same way). */
function withLineage(input: z.output<typeof startBody>): StartInput['claims'] {
  const lineage = Object.fromEntries(
    LINEAGE_FIELDS.filter((name) => input[name] !== undefined).map((name) => [name, input[name]!]),
  );
  return input.claims || Object.keys(lineage).length > 0
    ? { ...input.claims, ...lineage }
    : undefined;
}

export function parseEndBody(body: unknown) {
  return parse(endBody, body);
}

export function parseResumeBody(body: unknown): { maxDurationS?: number } {
  const { max_duration_s } = parse(resumeBody, body);
  return max_duration_s === undefined ? {} : { maxDurationS: max_duration_s };
}

export function parseExecutionId(value: unknown): string {
  return parse(id, value);
}

function parse<T extends z.ZodType>(schema: T, value: unknown): z.output<T> {
  const result = schema.safeParse(value ?? {});
  if (result.success) return result.data;
  const issue = result.error.issues[0]!;
  const where = issue.path.length > 0 ? `${issue.path.join('.')}: ` : '';
  throw new WfidError('ERR_INVALID_REQUEST', `${where}${issue.message}`);
}
