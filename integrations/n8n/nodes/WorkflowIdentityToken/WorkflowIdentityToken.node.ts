import type {
  IDataObject,
  IExecuteFunctions,
  INodeExecutionData,
  INodeType,
  INodeTypeDescription,
} from 'n8n-workflow';
import { NodeOperationError } from 'n8n-workflow';
import { IssuerError } from '../../src/client/issuer-error.js';
import { obtainToken, type TokenRequest } from '../../src/node/obtain-token.js';

/**
 * Returns an identity token for the execution it runs in. The ids (execution, workflow,
 * instance, mode) come from n8n's execution context, never from parameters, so a workflow
 * cannot ask for another workflow's token.
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
            name: 'tokenFile',
            type: 'string',
            default: '',
            placeholder: '/run/wfid/aws-token',
            description:
              'Also write the token to this file and keep it fresh until the execution ends (AWS_WEB_IDENTITY_TOKEN_FILE, Google credential_source.file). {execution_id} is replaced.',
          },
          {
            displayName: 'Include Request Credentials',
            name: 'includeRequest',
            type: 'boolean',
            default: false,
            description:
              'Whether to add WORKFLOW_ID_TOKEN_REQUEST_URL and WORKFLOW_ID_TOKEN_REQUEST_TOKEN (valid only while this execution runs) for scripts that mint their own tokens',
          },
        ],
      },
    ],
  };

  async execute(this: IExecuteFunctions): Promise<INodeExecutionData[][]> {
    const items = this.getInputData();
    const inputs = items.length > 0 ? items : [{ json: {} }];
    const workflow = this.getWorkflow();
    const facts = {
      executionId: this.getExecutionId(),
      workflowId: workflow.id,
      workflowName: workflow.name,
      mode: this.getMode?.(),
      instanceId: this.getInstanceId(),
    };
    const credentials = await this.getCredentials<{ issuerUrl: string; engineToken: string }>(
      'workflowIdentityApi',
    ).catch(() => undefined);

    const output: INodeExecutionData[] = [];
    for (let index = 0; index < inputs.length; index++) {
      const options = this.getNodeParameter('options', index, {}) as IDataObject;
      const request: TokenRequest = {
        audience: this.getNodeParameter('audience', index) as string,
        lifetimeS: (this.getNodeParameter('lifetime', index, 0) as number) || undefined,
        tokenFile: (options.tokenFile as string) || undefined,
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
        if (options.includeRequest) {
          json.WORKFLOW_ID_TOKEN_REQUEST_URL = result.requestUrl;
          json.WORKFLOW_ID_TOKEN_REQUEST_TOKEN = result.requestToken;
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
          description: error instanceof IssuerError ? `issuer error: ${error.code}` : undefined,
        });
      }
    }
    return [output];
  }
}
