import type { ICredentialType, INodeProperties } from 'n8n-workflow';

/**
 * The issuer's engine API: URL and engine token. Only nodes that declare it (the Workflow
 * Identity Token node) may use it (restrictToSupportedNodes), so an HTTP Request node cannot
 * send the engine token anywhere, and the node only registers the execution it runs in.
 */
export class WorkflowIdentityApi implements ICredentialType {
  name = 'workflowIdentityApi';
  displayName = 'Workflow Identity Issuer';
  icon = 'file:workflowIdentity.svg' as const;
  documentationUrl = 'https://github.com/workflow-identity/workflow-identity/blob/main/docs/n8n.md';
  restrictToSupportedNodes = true as const;
  properties: INodeProperties[] = [
    {
      displayName: 'Issuer URL',
      name: 'issuerUrl',
      type: 'string',
      default: 'http://127.0.0.1:8080',
      placeholder: 'https://wfid.example.com',
      description:
        'Base URL of the workflow-identity issuer (its engine API); its origin must be that of WFID_ISSUER_URL in n8n’s environment, the only place the engine token is sent',
      required: true,
    },
    {
      displayName: 'Engine Token',
      name: 'engineToken',
      type: 'string',
      typeOptions: { password: true },
      default: '',
      description: 'One of the issuer’s engine tokens (WFID_ENGINE_TOKEN)',
      required: true,
    },
  ];
}
