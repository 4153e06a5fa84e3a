import type {
  ICredentialDataDecryptedObject,
  ICredentialType,
  IHttpRequestOptions,
  INodeProperties,
} from 'n8n-workflow';
import { type AwsCredentials, serviceOfHost, signV4 } from '../src/credentials/aws-sigv4.js';
import { executionToken } from '../src/credentials/execution-token.js';
import { assumeRoleWithWebIdentity } from '../src/credentials/sts.js';

/** Role credentials are reused within one execution until this long before they expire. */
const REUSE_MARGIN_MS = 60_000;
const roleSessions = new Map<string, AwsCredentials & { expiresAtMs: number }>();

/**
 * AWS calls from an HTTP Request node (Authentication: Predefined Credential Type) as an IAM
 * role assumed with the execution's identity token (AssumeRoleWithWebIdentity): no AWS keys
 * are stored, the role's trust policy decides which workflows may assume it. Each request is
 * signed with Signature Version 4 for the service of its host (`sqs.eu-west-1.amazonaws.com`)
 * or the Service field. n8n's AWS nodes (S3, Lambda, …) accept only n8n's own AWS credential
 * types, so this credential serves the HTTP Request node.
 */
export class WorkflowIdentityAws implements ICredentialType {
  name = 'workflowIdentityAws';
  displayName = 'Workflow Identity AWS Role';
  icon = 'file:workflowIdentity.svg' as const;
  documentationUrl = 'https://github.com/workflow-identity/workflow-identity/blob/main/docs/n8n.md';
  properties: INodeProperties[] = [
    {
      displayName: 'Role ARN',
      name: 'roleArn',
      type: 'string',
      default: '',
      required: true,
      placeholder: 'arn:aws:iam::123456789012:role/n8n-payroll',
    },
    { displayName: 'Region', name: 'region', type: 'string', default: 'us-east-1' },
    {
      displayName: 'Audience',
      name: 'audience',
      type: 'string',
      default: 'sts.amazonaws.com',
      description: 'The aud claim the IAM OIDC provider expects',
    },
    {
      displayName: 'STS Endpoint',
      name: 'stsEndpoint',
      type: 'string',
      default: '',
      placeholder: 'https://sts.us-east-1.amazonaws.com',
      description: 'Empty: the regional STS endpoint of Region',
    },
    {
      displayName: 'Service',
      name: 'service',
      type: 'string',
      default: '',
      placeholder: 's3',
      description:
        'The service requests are signed for; empty: taken from the host (<service>.<region>.amazonaws.com)',
    },
    {
      displayName: 'Session Duration (Seconds)',
      name: 'durationSeconds',
      type: 'number',
      default: 900,
    },
  ];

  async authenticate(
    credentials: ICredentialDataDecryptedObject,
    requestOptions: IHttpRequestOptions,
  ): Promise<IHttpRequestOptions> {
    const region = String(credentials.region || 'us-east-1');
    const roleArn = String(credentials.roleArn);
    const token = await executionToken(credentials, String(credentials.audience));
    const sessionKey = `${token.executionId}\n${roleArn}\n${credentials.stsEndpoint}`;
    const now = Date.now();
    for (const [key, session] of roleSessions) {
      if (session.expiresAtMs <= now) roleSessions.delete(key);
    }
    let session = roleSessions.get(sessionKey);
    if (!session || session.expiresAtMs - REUSE_MARGIN_MS <= now) {
      session = await assumeRoleWithWebIdentity({
        endpoint: String(credentials.stsEndpoint || `https://sts.${region}.amazonaws.com`),
        roleArn,
        sessionName: `n8n-${token.executionId}`.slice(0, 64),
        token: token.value,
        durationSeconds: Number(credentials.durationSeconds) || undefined,
      });
      roleSessions.set(sessionKey, session);
    }
    return signRequest(requestOptions, session, region, String(credentials.service || ''));
  }
}

/**
 * Signs n8n's request options in place: both shapes n8n passes (IHttpRequestOptions with
 * url/baseURL, and the HTTP Request node's request-style uri/form), with the body serialised
 * here so that the bytes sent are the bytes signed.
 */
function signRequest(
  options: IHttpRequestOptions,
  credentials: AwsCredentials,
  region: string,
  configuredService: string,
): IHttpRequestOptions {
  const legacy = options as IHttpRequestOptions & { uri?: string; form?: Record<string, string> };
  const url = new URL(legacy.uri ?? options.url, options.baseURL);
  for (const [name, value] of Object.entries(options.qs ?? {})) {
    if (value !== undefined) url.searchParams.append(name, String(value));
  }
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(options.headers ?? {})) {
    if (value !== undefined) headers[name] = String(value);
  }
  let body = '';
  if (legacy.form) {
    body = new URLSearchParams(legacy.form).toString();
    headers['content-type'] ??= 'application/x-www-form-urlencoded';
  } else if (typeof options.body === 'string') {
    body = options.body;
  } else if (options.body instanceof URLSearchParams) {
    body = options.body.toString();
  } else if (options.body !== undefined && options.body !== null) {
    body = JSON.stringify(options.body);
    headers['content-type'] ??= 'application/json';
  }
  const fromHost = serviceOfHost(url.hostname);
  const service = configuredService || fromHost?.service;
  if (!service) {
    throw new Error(
      `workflow-identity: cannot tell the AWS service of ${url.host}; set the credential’s Service`,
    );
  }
  signV4(
    { method: options.method ?? 'GET', url, headers, body },
    credentials,
    fromHost?.region ?? region,
    service,
  );
  legacy.uri = undefined;
  legacy.form = undefined;
  options.url = url.toString();
  options.baseURL = undefined;
  options.qs = undefined;
  options.headers = headers;
  if (body) options.body = body;
  return options;
}
