import { createRequire } from 'node:module';
import { canonicalCode, type StoredNode, type WorkflowCode } from './workflow-digest.js';

/** A workflow as n8n's database holds it: the draft, and the published version if any. */
export interface StoredWorkflow {
  id: string;
  name?: string;
  draft: WorkflowCode & { versionId?: string };
  published?: WorkflowCode & { versionId: string };
  /** The n8n project that owns the workflow. */
  projectId?: string;
}

/** Read access to n8n's stored workflows, from inside the n8n process. */
export interface WorkflowStore {
  load(workflowId: string): Promise<StoredWorkflow | undefined>;
  /**
   * Whether running code is the stored code. n8n fills every node's default parameters into
   * the objects it runs (Workflow constructor), so both sides are compared after n8n's own
   * defaulting, never raw.
   */
  sameCode(running: WorkflowCode, stored: WorkflowCode): boolean;
}

interface Container {
  get(type: unknown): unknown;
}
interface WorkflowEntity {
  id: string;
  name?: string;
  nodes: StoredNode[];
  connections: unknown;
  versionId?: string;
  activeVersionId?: string | null;
  activeVersion?: { versionId: string; nodes: StoredNode[]; connections: unknown } | null;
  shared?: Array<{ role?: string; projectId?: string }>;
}
interface NodeTypes {
  getByNameAndVersion(type: string, version?: number): { description: NodeDescription };
}
interface NodeDescription {
  properties: unknown[];
}
type GetNodeParameters = (
  properties: unknown[],
  parameters: unknown,
  returnDefaults: boolean,
  returnNoneDisplayed: boolean,
  node: unknown,
  description: unknown,
) => unknown;

/**
 * n8n's own workflow repository, node types and parameter defaulting, resolved from the
 * running n8n (this package has no n8n of its own). Undefined outside n8n or when its
 * internals moved: then no workflow id can be asserted and no token is issued.
 */
export function n8nWorkflowStore(): WorkflowStore | undefined {
  const main = require.main?.filename;
  if (!main) return undefined;
  try {
    const n8nRequire = createRequire(main);
    const { Container } = n8nRequire('@n8n/di') as { Container: Container };
    const { WorkflowRepository } = n8nRequire('@n8n/db') as { WorkflowRepository: unknown };
    const { NodeTypes } = n8nRequire('../dist/node-types.js') as { NodeTypes: unknown };
    const { NodeHelpers } = n8nRequire('n8n-workflow') as {
      NodeHelpers: { getNodeParameters: GetNodeParameters };
    };
    if (!Container || !WorkflowRepository || !NodeTypes || !NodeHelpers) return undefined;
    return {
      async load(workflowId) {
        // Looked up per call: the hooks file loads before n8n's database is connected.
        const repository = Container.get(WorkflowRepository) as {
          findOne(options: unknown): Promise<WorkflowEntity | null>;
        };
        const entity = await repository.findOne({
          where: { id: workflowId },
          relations: { activeVersion: true, shared: true },
        });
        return entity ? storedWorkflow(entity) : undefined;
      },
      sameCode(running, stored) {
        const nodeTypes = Container.get(NodeTypes) as NodeTypes;
        const normalise = (code: WorkflowCode) =>
          canonicalCode({
            nodes: code.nodes.map((node) =>
              withDefaults(node, nodeTypes, NodeHelpers.getNodeParameters),
            ),
            connections: code.connections,
          });
        return normalise(running) === normalise(stored);
      },
    };
  } catch {
    return undefined;
  }
}

function storedWorkflow(entity: WorkflowEntity): StoredWorkflow {
  const published =
    entity.activeVersionId && entity.activeVersion
      ? {
          versionId: entity.activeVersion.versionId,
          nodes: entity.activeVersion.nodes,
          connections: entity.activeVersion.connections,
        }
      : undefined;
  return {
    id: entity.id,
    name: entity.name,
    draft: { versionId: entity.versionId, nodes: entity.nodes, connections: entity.connections },
    published,
    projectId: entity.shared?.find((share) => share.role === 'workflow:owner')?.projectId,
  };
}

/** A copy of the node with the parameters n8n runs it with (as `new Workflow()` fills them). */
function withDefaults(
  node: StoredNode,
  nodeTypes: NodeTypes,
  getNodeParameters: GetNodeParameters,
): StoredNode {
  const copy = structuredClone(node);
  let description: NodeDescription;
  try {
    description = nodeTypes.getByNameAndVersion(node.type, node.typeVersion).description;
  } catch {
    return copy; // unknown type: n8n leaves its parameters as they are too
  }
  if (!description) return copy;
  copy.parameters =
    getNodeParameters(description.properties, copy.parameters, true, false, copy, description) ??
    {};
  return copy;
}
