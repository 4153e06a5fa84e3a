import { createHash } from 'node:crypto';

/** A node as n8n stores it (workflow_entity.nodes, workflow_history.nodes, an export). */
export interface StoredNode {
  name: string;
  type: string;
  typeVersion?: number;
  parameters?: unknown;
  [field: string]: unknown;
}

/** What defines a workflow's behaviour: its nodes and how they are connected. */
export interface WorkflowCode {
  nodes: readonly StoredNode[];
  connections: unknown;
}

/**
 * The node fields that change what a workflow does. Left out on purpose: `id`, `position`,
 * `notes`, `notesInFlow`, `color` (editor layout and comments).
 */
export const BEHAVIOUR_FIELDS = [
  'name',
  'type',
  'typeVersion',
  'parameters',
  'credentials',
  'disabled',
  'executeOnce',
  'alwaysOutputData',
  'retryOnFail',
  'maxTries',
  'waitBetweenTries',
  'onError',
  'continueOnFail',
  'webhookId',
] as const;

/**
 * The canonical JSON of a workflow's code (docs/n8n.md, "workflow_digest"):
 * `{"connections":…,"nodes":[…]}` where each node keeps only BEHAVIOUR_FIELDS, nodes are
 * sorted by name (unique in n8n), object keys are sorted by UTF-16 code units at every
 * level, members whose value is undefined are left out, and there is no whitespace;
 * strings and numbers are written as JSON.stringify writes them.
 */
export function canonicalCode(code: WorkflowCode): string {
  const nodes = [...code.nodes]
    .map((node) => {
      const kept: Record<string, unknown> = {};
      for (const field of BEHAVIOUR_FIELDS) kept[field] = node[field];
      return kept;
    })
    .sort((a, b) => compare(String(a.name), String(b.name)));
  return canonicalJson({ connections: code.connections ?? {}, nodes });
}

/** `sha256:<hex>` of canonicalCode: the `workflow_digest` claim. */
export function workflowDigest(code: WorkflowCode): string {
  return `sha256:${createHash('sha256').update(canonicalCode(code)).digest('hex')}`;
}

export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') {
    // undefined at the top level or in an array is written as null, as JSON.stringify does.
    return JSON.stringify(value) ?? 'null';
  }
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  const members = Object.keys(value)
    .filter((key) => (value as Record<string, unknown>)[key] !== undefined)
    .sort(compare)
    .map(
      (key) => `${JSON.stringify(key)}:${canonicalJson((value as Record<string, unknown>)[key])}`,
    );
  return `{${members.join(',')}}`;
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
