import { createHash, createHmac } from 'node:crypto';

/** Temporary AWS credentials (from AssumeRoleWithWebIdentity). */
export interface AwsCredentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
}

export interface SignableRequest {
  method: string;
  url: URL;
  /** Header names in any case; the signed ones are added here. */
  headers: Record<string, string>;
  body: string;
}

/**
 * AWS Signature Version 4 (header form), as the AWS SDKs sign: canonical request, string to
 * sign, HMAC chain over date, region, service and `aws4_request`. Adds `host`, `x-amz-date`,
 * `x-amz-content-sha256`, `x-amz-security-token` (temporary credentials) and `authorization`.
 * Paths are encoded once for S3 and twice for every other service, as AWS specifies.
 */
export function signV4(
  request: SignableRequest,
  credentials: AwsCredentials,
  region: string,
  service: string,
  now: Date = new Date(),
): void {
  const amzDate = now
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d{3}/, '');
  const day = amzDate.slice(0, 8);
  const payloadHash = sha256Hex(request.body);
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(request.headers)) {
    headers[name.toLowerCase()] = String(value).trim().replace(/\s+/g, ' ');
  }
  headers.host = request.url.host;
  headers['x-amz-date'] = amzDate;
  headers['x-amz-content-sha256'] = payloadHash;
  if (credentials.sessionToken) headers['x-amz-security-token'] = credentials.sessionToken;
  delete headers.authorization;
  const names = Object.keys(headers).sort();
  const canonicalRequest = [
    request.method.toUpperCase(),
    canonicalPath(request.url.pathname, service === 's3'),
    canonicalQuery(request.url.searchParams),
    names.map((name) => `${name}:${headers[name]}\n`).join(''),
    names.join(';'),
    payloadHash,
  ].join('\n');
  const scope = `${day}/${region}/${service}/aws4_request`;
  const stringToSign = ['AWS4-HMAC-SHA256', amzDate, scope, sha256Hex(canonicalRequest)].join('\n');
  let key: Buffer = hmac(`AWS4${credentials.secretAccessKey}`, day);
  for (const part of [region, service, 'aws4_request']) key = hmac(key, part);
  const signature = createHmac('sha256', key).update(stringToSign).digest('hex');
  for (const name of Object.keys(request.headers)) delete request.headers[name];
  Object.assign(request.headers, headers, {
    authorization: `AWS4-HMAC-SHA256 Credential=${credentials.accessKeyId}/${scope}, SignedHeaders=${names.join(';')}, Signature=${signature}`,
  });
}

/**
 * The service and region of an AWS endpoint: `sts.amazonaws.com` (sts), `sts.eu-west-1.amazonaws.com`,
 * `bucket.s3.eu-west-1.amazonaws.com` (s3, eu-west-1); undefined for any other host.
 */
export function serviceOfHost(host: string): { service: string; region?: string } | undefined {
  const match = /^(.+)\.amazonaws\.com(?:\.cn)?$/.exec(host);
  if (!match) return undefined;
  const parts = match[1]!.split('.');
  const last = parts.at(-1)!;
  if (/^[a-z]{2}(?:-gov)?-[a-z]+-\d$/.test(last) && parts.length >= 2) {
    return { service: parts.at(-2)!, region: last };
  }
  return { service: last };
}

function canonicalPath(path: string, s3: boolean): string {
  const segments = path.split('/').map((segment) => {
    const once = encodeRfc3986(decodeURIComponent(segment));
    return s3 ? once : encodeRfc3986(once);
  });
  return segments.join('/') || '/';
}

function canonicalQuery(params: URLSearchParams): string {
  return [...params]
    .map(([name, value]) => [encodeRfc3986(name), encodeRfc3986(value)] as const)
    .sort(([a, x], [b, y]) => (a < b ? -1 : a > b ? 1 : x < y ? -1 : x > y ? 1 : 0))
    .map(([name, value]) => `${name}=${value}`)
    .join('&');
}

function encodeRfc3986(text: string): string {
  return encodeURIComponent(text).replace(
    /[!'()*]/g,
    (char) => `%${char.charCodeAt(0).toString(16).toUpperCase()}`,
  );
}

function sha256Hex(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

function hmac(key: string | Buffer, data: string): Buffer {
  return createHmac('sha256', key).update(data).digest();
}
