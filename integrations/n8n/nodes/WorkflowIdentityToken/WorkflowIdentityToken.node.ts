import type {
  IDataObject,
  IExecuteFunctions,
  INodeExecutionData,
  INodeType,
  INodeTypeDescription,
} from 'n8n-workflow';
import { NodeOperationError } from 'n8n-workflow';
import { IssuerError } from '../../src/client/issuer-error.js';
import { IdentityRefused } from '../../src/identity/resolve.js';
import type { StoredNode } from '../../src/identity/workflow-digest.js';
import { obtainToken, type TokenRequest } from '../../src/node/obtain-token.js';

interface RunningWorkflow {
  nodes: Record<string, StoredNode>;
  connectionsBySourceNode: unknown;
}

/**
 * Returns an identity token for the execution it runs in. The execution's identity is
 * proven from n8n's stored workflows (the running code must be the stored code), never
 * taken from parameters or from a workflow's JSON, so a workflow cannot ask for another
 * workflow's token.
 */
export class WorkflowIdentityToken implements INodeType {
  description: INodeTypeDescription = {
    displayName: 'Workflow Identity Token',
    name: 'workflowIdentityToken',
    icon: 'file:workflowIdentity.svg',
    group: ['transform'],
    version: 1,
    subtitle: '={{"aud: " + $parameter["audience"]}}',
    description: 'Get a short-lived OIDC identity token (JWT) for this execution',
    defaults: { name: 'Workflow Identity Token' },
    inputs: ['main'],
    outputs: ['main'],
    credentials: [{ name: 'workflowIdentityApi', required: false }],
    properties: [
      {
        displayName: 'Audience',
        name: 'audience',
        type: 'string',
        default: '',
        required: true,
        placeholder: 'sts.amazonaws.com',
        description:
          'Who the token is for (the aud claim): sts.amazonaws.com for AWS, the provider resource name for Google, the role’s bound audience for Vault/OpenBao',
      },
      {
        displayName: 'Lifetime (Seconds)',
        name: 'lifetime',
        type: 'number',
        default: 0,
        typeOptions: { minValue: 0 },
        description: 'Token lifetime; 0 uses the issuer’s default (capped by the issuer)',
      },
      {
        displayName: 'Output Field',
        name: 'field',
        type: 'string',
        default: 'token',
        description: 'Field of each item that receives the token',
      },
      {
        displayName: 'Options',
        name: 'options',
        type: 'collection',
        placeholder: 'Add Option',
        default: {},
        options: [
          {
            displayName: 'Token File',
            name: 'writeTokenFile',
            type: 'boolean',
            default: false,
            description:
              'Whether to also keep <WFID_TOKEN_FILE_DIR>/<execution id>.jwt fresh with this token until the execution ends (AWS_WEB_IDENTITY_TOKEN_FILE, Google credential_source.file). The directory is set by the n8n operator; the path is returned in <field>_file.',
          },
          {
            displayName: 'Include Request Credentials',
            name: 'includeRequest',
            type: 'boolean',
            default: false,
            description:
              'Whether to add WORKFLOW_ID_TOKEN_REQUEST_URL and WORKFLOW_ID_TOKEN_REQUEST_TOKEN (valid only while this execution runs) for scripts that mint their own tokens. Refused unless the operator sets WFID_N8N_REQUEST_CREDENTIALS_IN_OUTPUT=true: they are saved in execution data.',
          },
        ],
      },
    ],
  };

  async execute(this: IExecuteFunctions): Promise<INodeExecutionData[][]> {
    const items = this.getInputData();
    const inputs = items.length > 0 ? items : [{ json: {} }];
    const workflow = this.getWorkflow();
    // The running code as n8n holds it (the context's Workflow; not public API, so checked):
    // without it nothing matches a stored workflow and the node is refused.
    const running = (this as unknown as { workflow?: Partial<RunningWorkflow> }).workflow;
    const facts = {
      executionId: this.getExecutionId(),
      workflowId: workflow.id === undefined ? undefined : String(workflow.id),
      code: {
        nodes: Object.values(running?.nodes ?? {}),
        connections: running?.connectionsBySourceNode ?? {},
      },
      mode: this.getMode?.(),
      instanceId: this.getInstanceId(),
    };
    // The credential is optional (the hooks file makes it unnecessary); one that is selected
    // but cannot be read fails the node with n8n's own error.
    const credentials = this.getNode().credentials?.workflowIdentityApi
      ? await this.getCredentials<{ issuerUrl: string; engineToken: string }>('workflowIdentityApi')
      : undefined;

    const output: INodeExecutionData[] = [];
    for (let index = 0; index < inputs.length; index++) {
      const options = this.getNodeParameter('options', index, {}) as IDataObject;
      const request: TokenRequest = {
        audience: this.getNodeParameter('audience', index) as string,
        lifetimeS: (this.getNodeParameter('lifetime', index, 0) as number) || undefined,
        tokenFile: options.writeTokenFile === true,
        includeRequest: options.includeRequest === true,
      };
      const field = this.getNodeParameter('field', index, 'token') as string;
      try {
        const result = await obtainToken(facts, request, credentials);
        const json: IDataObject = {
          ...inputs[index]!.json,
          [field]: result.token,
          [`${field}_expires_at`]: result.expiresAt,
        };
        if (result.tokenFile) json[`${field}_file`] = result.tokenFile;
        if (result.request) {
          json.WORKFLOW_ID_TOKEN_REQUEST_URL = result.request.url;
          json.WORKFLOW_ID_TOKEN_REQUEST_TOKEN = result.request.token;
        }
        output.push({ json, pairedItem: { item: index } });
      } catch (error) {
        const message = error instanceof Error ? error.message : String(error);
        if (this.continueOnFail()) {
          output.push({ json: { error: message }, pairedItem: { item: index } });
          continue;
        }
        throw new NodeOperationError(this.getNode(), message, {
          itemIndex: index,
          description:
            error instanceof IssuerError
              ? `issuer error: ${error.code}`
              : error instanceof IdentityRefused
                ? `no identity: ${error.code}`
                : undefined,
        });
      }
    }
    return [output];
  }
}
