import { describe, expect, it } from 'vitest';
import { isTransient, toWfidError } from '../../backends/aws-kms/faults.js';
import { parseAwsKmsUri } from '../../backends/aws-kms/uri.js';
import { isWfidError } from '../../src/errors.js';

describe('awskms:// key URIs', () => {
  it('reads an alias, a key ARN, a key id, and an endpoint (http only for loopback)', () => {
    expect(parseAwsKmsUri('awskms:///alias/wfid')).toEqual({
      keyId: 'alias/wfid',
      alias: 'alias/wfid',
    });
    const arn = 'arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab';
    expect(parseAwsKmsUri(`awskms:///${arn}`)).toEqual({ keyId: arn, region: 'eu-west-1' });
    expect(parseAwsKmsUri('awskms:///1234abcd-12ab-34cd-56ef-1234567890ab').keyId).toBe(
      '1234abcd-12ab-34cd-56ef-1234567890ab',
    );
    expect(parseAwsKmsUri('awskms://127.0.0.1:4566/alias/wfid').endpoint).toBe(
      'http://127.0.0.1:4566',
    );
    expect(parseAwsKmsUri('awskms://localstack:4566/alias/wfid').endpoint).toBe(
      'https://localstack:4566',
    );
    expect(parseAwsKmsUri('awskms:///arn:aws:kms:us-east-1:111122223333:alias/wfid').alias).toBe(
      'alias/wfid',
    );
  });

  it('refuses what names no key, with ERR_CONFIG', () => {
    for (const uri of [
      'awskms://',
      'awskms:///',
      'awskms:///wfid',
      'gcpkms:///alias/wfid',
      'awskms://a b/alias/x',
    ]) {
      expect(() => parseAwsKmsUri(uri)).toThrow(expect.objectContaining({ code: 'ERR_CONFIG' }));
    }
  });
});

describe('aws-kms fault mapping', () => {
  const policy = { retries: 2, backoffMs: 10, maxBackoffMs: 3000 };
  const named = (name: string, status?: number) =>
    Object.assign(new Error(name), { name, $metadata: { httpStatusCode: status } });

  it('retries throttling, 5xx, timeouts and refused connections, not client errors', () => {
    expect(isTransient(named('ThrottlingException', 400))).toBe(true);
    expect(isTransient(named('KMSInternalException', 500))).toBe(true);
    expect(isTransient(named('TimeoutError'))).toBe(true);
    expect(isTransient(Object.assign(new Error('connect'), { code: 'ECONNREFUSED' }))).toBe(true);
    expect(isTransient(named('NotFoundException', 400))).toBe(false);
    expect(isTransient(named('AccessDeniedException', 400))).toBe(false);
  });

  it('maps KMS errors to the backend codes; unavailable carries retryAfter', () => {
    const map = (err: Error) => toWfidError(err, 'Sign', 'k', policy, 3);
    expect(isWfidError(map(named('NotFoundException', 400)), 'ERR_KEY_NOT_FOUND')).toBe(true);
    expect(isWfidError(map(named('DisabledException', 400)), 'ERR_KEY_DISABLED')).toBe(true);
    expect(isWfidError(map(named('KMSInvalidStateException', 400)), 'ERR_KEY_DISABLED')).toBe(true);
    expect(isWfidError(map(named('InvalidKeyUsageException', 400)), 'ERR_KEY_UNSUITABLE')).toBe(
      true,
    );
    expect(isWfidError(map(named('AccessDeniedException', 400)), 'ERR_BACKEND')).toBe(true);
    const unavailable = map(named('ThrottlingException', 400));
    expect(isWfidError(unavailable, 'ERR_BACKEND_UNAVAILABLE')).toBe(true);
    expect(unavailable.retryAfter).toBe(3);
  });
});
