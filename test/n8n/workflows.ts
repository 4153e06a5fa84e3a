/** Small builders for the n8n workflows the real-n8n tests import (n8n's export format). */

export type Node = ReturnType<typeof node>;

/** A node with a stable id derived from its name (n8n refuses duplicate node ids). */
export function node(
  name: string,
  type: string,
  typeVersion: number,
  parameters: object,
  extra = {},
) {
  return {
    id: `00000000-0000-4000-8000-${hex12(name)}`,
    name,
    type,
    typeVersion,
    position: [0, 0],
    parameters,
    ...extra,
  };
}

/** The Workflow Identity Token node; it reports its error in the item instead of failing. */
export function tokenNode(audience: string, options: object = {}, extra: object = {}) {
  return node(
    'Token',
    'CUSTOM.workflowIdentityToken',
    1,
    { audience, options },
    { onError: 'continueRegularOutput', ...extra },
  );
}

/** Adds n8n's own execution and workflow ids to the item. */
export const idsNode = node('Ids', 'n8n-nodes-base.set', 3.4, {
  mode: 'manual',
  includeOtherFields: true,
  assignments: {
    assignments: [
      { id: 'i1', name: 'n8n_execution_id', value: '={{ $execution.id }}', type: 'string' },
      { id: 'i2', name: 'n8n_workflow_id', value: '={{ $workflow.id }}', type: 'string' },
    ],
  },
  options: {},
});

/** Connections running the named nodes one after another. */
export function chain(...names: string[]) {
  return Object.fromEntries(
    names
      .slice(0, -1)
      .map((name, i) => [name, { main: [[{ node: names[i + 1], type: 'main', index: 0 }]] }]),
  );
}

/** A GET webhook answering with the last node's output. */
export function webhook(path: string) {
  return node(
    'Webhook',
    'n8n-nodes-base.webhook',
    2,
    { httpMethod: 'GET', path, responseMode: 'lastNode', options: {} },
    { webhookId: `3f5b9c1e-7d2a-4e8b-9c0d-${hex12(path)}` },
  );
}

/** Calls a stored workflow (source Database). */
export function callWorkflow(name: string, workflowId: string) {
  return node(name, 'n8n-nodes-base.executeWorkflow', 1.2, {
    workflowId: { __rl: true, mode: 'id', value: workflowId },
    options: {},
  });
}

/** The sub-workflow trigger ("When Executed by Another Workflow"), passing items through. */
export const subworkflowStart = node('Start', 'n8n-nodes-base.executeWorkflowTrigger', 1.1, {
  inputSource: 'passthrough',
});

/**
 * Webhook -> token -> answers the caller (with the execution id and its resume URL) -> Wait
 * (resumed by a call to that URL, answered with the last node) -> a second token.
 */
export function waitingWorkflow(id: string, audience: string) {
  return {
    id,
    name: `Wait demo ${id}`,
    settings: { executionOrder: 'v1' },
    nodes: [
      node(
        'Webhook',
        'n8n-nodes-base.webhook',
        2,
        { httpMethod: 'GET', path: `wfid-wait-${id}`, responseMode: 'responseNode', options: {} },
        { webhookId: `3f5b9c1e-7d2a-4e8b-9c0d-${hex12(`${id}a`)}` },
      ),
      tokenNode(audience, {}, { onError: 'stopWorkflow' }),
      node('Resume', 'n8n-nodes-base.set', 3.4, {
        mode: 'manual',
        includeOtherFields: true,
        assignments: {
          assignments: [
            { id: 'r1', name: 'n8n_execution_id', value: '={{ $execution.id }}', type: 'string' },
            { id: 'r2', name: 'resume_url', value: '={{ $execution.resumeUrl }}', type: 'string' },
          ],
        },
        options: {},
      }),
      node('Respond', 'n8n-nodes-base.respondToWebhook', 1.1, {
        respondWith: 'firstIncomingItem',
        options: {},
      }),
      node(
        'Wait',
        'n8n-nodes-base.wait',
        1.1,
        { resume: 'webhook', httpMethod: 'GET', responseMode: 'lastNode', options: {} },
        { webhookId: `3f5b9c1e-7d2a-4e8b-9c0d-${hex12(`${id}b`)}` },
      ),
      node('Token after wait', 'CUSTOM.workflowIdentityToken', 1, {
        audience: audience,
        field: 'token_after',
        options: {},
      }),
      idsNode,
    ],
    connections: chain('Webhook', 'Token', 'Resume', 'Respond', 'Wait', 'Token after wait', 'Ids'),
  };
}

function hex12(text: string): string {
  return Buffer.from(text).toString('hex').slice(-12).padStart(12, '0');
}
