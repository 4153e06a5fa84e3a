/**
 * The pure parts of the execution-bound credentials: Signature Version 4 against the AWS SDK's
 * own signer, service detection, and the execution binding's proof.
 */
import { createHash, createHmac } from 'node:crypto';
import { SignatureV4 } from '@smithy/signature-v4';
import { describe, expect, it } from 'vitest';
import { serviceOfHost, signV4 } from '../../integrations/n8n/src/credentials/aws-sigv4.js';
import {
  boundExecution,
  executionBinding,
} from '../../integrations/n8n/src/credentials/execution-binding.js';

/** The SDK's hash interface over node:crypto (HMAC when given a secret). */
class Sha256 {
  private readonly hash;
  constructor(secret?: string | Uint8Array) {
    this.hash = secret === undefined ? createHash('sha256') : createHmac('sha256', secret);
  }
  update(data: string | Uint8Array) {
    this.hash.update(data);
  }
  async digest() {
    return new Uint8Array(this.hash.digest());
  }
  reset() {}
}

const credentials = {
  accessKeyId: 'ASIAEXAMPLEEXAMPLE01',
  secretAccessKey: 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY',
  sessionToken: 'FwoGZXIvYXdzEXAMPLE//session+token=',
};

describe('signV4', () => {
  const cases = [
    {
      service: 'sts',
      method: 'POST',
      url: 'https://sts.us-east-1.amazonaws.com/',
      body: 'Action=GetCallerIdentity&Version=2011-06-15',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
    },
    {
      service: 's3',
      method: 'GET',
      url: 'https://bucket.s3.eu-west-1.amazonaws.com/a%20b/c~d.txt?list-type=2&prefix=x%2Fy&a=1',
      body: '',
      headers: {},
    },
    {
      service: 'execute-api',
      method: 'PUT',
      url: 'https://abc.execute-api.us-east-1.amazonaws.com/stage/items/a%2Fb',
      body: '{"x":1}',
      headers: { 'Content-Type': 'application/json', 'X-Custom': '  two   spaces ' },
    },
  ];

  for (const example of cases) {
    it(`signs ${example.method} ${example.service} exactly as the AWS SDK does`, async () => {
      const now = new Date('2026-11-30T09:30:00Z');
      const url = new URL(example.url);
      const region = serviceOfHost(url.hostname)?.region ?? 'us-east-1';
      const ours = {
        method: example.method,
        url,
        headers: { ...example.headers },
        body: example.body,
      };
      signV4(ours, credentials, region, example.service, now);

      const sdk = new SignatureV4({
        credentials,
        region,
        service: example.service,
        sha256: Sha256,
        uriEscapePath: example.service !== 's3',
      });
      const query: Record<string, string> = {};
      for (const [name, value] of url.searchParams) query[name] = value;
      const signed = await sdk.sign(
        {
          method: example.method,
          protocol: url.protocol,
          hostname: url.hostname,
          path: url.pathname,
          query,
          headers: {
            ...example.headers,
            host: url.host,
            'x-amz-content-sha256': createHash('sha256').update(example.body).digest('hex'),
          },
          body: example.body,
        },
        { signingDate: now },
      );
      expect(ours.headers.authorization).toBe(signed.headers.authorization);
      expect(ours.headers['x-amz-security-token']).toBe(credentials.sessionToken);
    });
  }

  it('tells the service and region of AWS hosts only', () => {
    expect(serviceOfHost('sts.amazonaws.com')).toEqual({ service: 'sts' });
    expect(serviceOfHost('sqs.eu-west-1.amazonaws.com')).toEqual({
      service: 'sqs',
      region: 'eu-west-1',
    });
    expect(serviceOfHost('bucket.s3.us-gov-west-1.amazonaws.com')).toEqual({
      service: 's3',
      region: 'us-gov-west-1',
    });
    expect(serviceOfHost('127.0.0.1')).toBeUndefined();
    expect(serviceOfHost('amazonaws.com.evil.example')).toBeUndefined();
  });
});

describe('execution binding', () => {
  it('accepts only the proof this process made for that execution', () => {
    const bound = executionBinding('42');
    expect(boundExecution({ audience: 'x', ...bound })).toBe('42');
    const message = /only in an n8n running the workflow-identity hooks file/;
    expect(() =>
      boundExecution({ executionId: '43', executionProof: bound.executionProof }),
    ).toThrow(message);
    expect(() => boundExecution({ executionId: '42' })).toThrow(message);
    expect(() => boundExecution({})).toThrow(message);
    // A proof under any other key (another process, a guess) is refused.
    const guessed = createHmac('sha256', Buffer.alloc(32)).update('42').digest('base64url');
    expect(() => boundExecution({ executionId: '42', executionProof: guessed })).toThrow(message);
  });
});
