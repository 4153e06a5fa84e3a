import type { AwsCredentials } from './aws-sigv4.js';

export interface WebIdentityRequest {
  /** STS endpoint, e.g. `https://sts.eu-west-1.amazonaws.com`. */
  endpoint: string;
  roleArn: string;
  sessionName: string;
  token: string;
  durationSeconds?: number;
  fetch?: typeof fetch;
}

/**
 * STS AssumeRoleWithWebIdentity: the call needs no AWS signature, only the identity token.
 * Returns the role's temporary credentials and when they expire.
 */
export async function assumeRoleWithWebIdentity(
  request: WebIdentityRequest,
): Promise<AwsCredentials & { expiresAtMs: number }> {
  const form = new URLSearchParams({
    Action: 'AssumeRoleWithWebIdentity',
    Version: '2011-06-15',
    RoleArn: request.roleArn,
    RoleSessionName: request.sessionName,
    WebIdentityToken: request.token,
  });
  if (request.durationSeconds) form.set('DurationSeconds', String(request.durationSeconds));
  const response = await (request.fetch ?? fetch)(request.endpoint, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/xml' },
    body: form.toString(),
    signal: AbortSignal.timeout(10_000),
  });
  const xml = await response.text();
  if (!response.ok) {
    // STS's own error code and message (never the token, which is not in the answer).
    const code = element(xml, 'Code') ?? `HTTP ${response.status}`;
    throw new Error(
      `workflow-identity: AssumeRoleWithWebIdentity refused (${code}): ${element(xml, 'Message') ?? ''}`.trim(),
    );
  }
  const accessKeyId = element(xml, 'AccessKeyId');
  const secretAccessKey = element(xml, 'SecretAccessKey');
  const sessionToken = element(xml, 'SessionToken');
  const expiration = element(xml, 'Expiration');
  if (!accessKeyId || !secretAccessKey || !sessionToken || !expiration) {
    throw new Error('workflow-identity: AssumeRoleWithWebIdentity answered without credentials');
  }
  return { accessKeyId, secretAccessKey, sessionToken, expiresAtMs: Date.parse(expiration) };
}

function element(xml: string, name: string): string | undefined {
  const match = new RegExp(`<${name}>([^<]*)</${name}>`).exec(xml);
  return match?.[1] && decodeXml(match[1]);
}

function decodeXml(text: string): string {
  return text
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&quot;/g, '"')
    .replace(/&apos;/g, "'")
    .replace(/&amp;/g, '&');
}
