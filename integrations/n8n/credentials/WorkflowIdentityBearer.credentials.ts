import type {
  ICredentialDataDecryptedObject,
  ICredentialType,
  IHttpRequestOptions,
  INodeProperties,
} from 'n8n-workflow';
import { executionToken } from '../src/credentials/execution-token.js';

/**
 * Sends the running execution's identity token as `Authorization: Bearer <token>` from an
 * HTTP Request node (Authentication: Predefined Credential Type). It holds no secret, only the
 * audience: the token is minted for the execution n8n decrypts the credential in (the hooks
 * bind it, see src/credentials/execution-binding.ts), so nobody handles tokens and a
 * credential cannot name another execution.
 */
export class WorkflowIdentityBearer implements ICredentialType {
  name = 'workflowIdentityBearer';
  displayName = 'Workflow Identity Token (Bearer)';
  icon = 'file:workflowIdentity.svg' as const;
  documentationUrl = 'https://github.com/workflow-identity/workflow-identity/blob/main/docs/n8n.md';
  properties: INodeProperties[] = [
    {
      displayName: 'Audience',
      name: 'audience',
      type: 'string',
      default: '',
      required: true,
      placeholder: 'https://api.example.com',
      description: 'Who the token is for (its aud claim): the service the requests go to',
    },
    {
      displayName: 'Lifetime (Seconds)',
      name: 'lifetime',
      type: 'number',
      default: 0,
      description: 'Token lifetime; 0 uses the issuer’s default (capped by the issuer)',
    },
  ];

  async authenticate(
    credentials: ICredentialDataDecryptedObject,
    requestOptions: IHttpRequestOptions,
  ): Promise<IHttpRequestOptions> {
    const lifetime = Number(credentials.lifetime) || undefined;
    const { value } = await executionToken(credentials, String(credentials.audience), lifetime);
    requestOptions.headers = { ...requestOptions.headers, Authorization: `Bearer ${value}` };
    return requestOptions;
  }
}
