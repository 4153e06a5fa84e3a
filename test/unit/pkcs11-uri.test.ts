import { describe, expect, it } from 'vitest';
import { createdAtOf, newKeyId } from '../../backends/pkcs11/objects.js';
import { parsePkcs11Uri } from '../../backends/pkcs11/uri.js';
import { isWfidError } from '../../src/errors.js';

describe('pkcs11 key URI (RFC 7512)', () => {
  it('reads path and query attributes, percent-decoded', () => {
    const uri =
      'pkcs11:token=my%20token;object=wfid-signing;serial=abc123;type=private?module-path=%2Fopt%2Fhsm%2Flib.so&pin-source=file:/run/secrets/pin';
    expect(parsePkcs11Uri(uri)).toEqual({
      token: 'my token',
      object: 'wfid-signing',
      serial: 'abc123',
      modulePath: '/opt/hsm/lib.so',
      pinSource: 'file:/run/secrets/pin',
      pinValue: undefined,
    });
  });

  it.each([
    ['no token', 'pkcs11:object=x'],
    ['no object', 'pkcs11:token=t'],
    ['a public-key type', 'pkcs11:token=t;object=x;type=public'],
    ['an id it would not honour', 'pkcs11:token=t;object=x;id=%01'],
    ['an attribute given twice', 'pkcs11:token=t;object=x;object=y'],
    ['an attribute without value', 'pkcs11:token=t;object'],
    ['a query attribute in the path', 'pkcs11:token=t;object=x;module-path=/lib.so'],
    [
      'a pin-source that is not a file',
      'pkcs11:token=t;object=x?pin-source=https://example.com/pin',
    ],
    ['bad percent-encoding', 'pkcs11:token=%zz;object=x'],
    ['another scheme', 'file://./keys'],
  ])('refuses %s with ERR_CONFIG', (_why, uri) => {
    let error: unknown;
    try {
      parsePkcs11Uri(uri);
    } catch (err) {
      error = err;
    }
    expect(isWfidError(error, 'ERR_CONFIG')).toBe(true);
  });

  it('never repeats a pin-value in its errors', () => {
    let error: unknown;
    try {
      parsePkcs11Uri('pkcs11:token=t;object=x;bogus=1?pin-value=s3cr3t-pin');
    } catch (err) {
      error = err;
    }
    expect(isWfidError(error, 'ERR_CONFIG')).toBe(true);
    expect((error as Error).message).not.toContain('s3cr3t-pin');
  });
});

describe('pkcs11 CKA_ID with creation time', () => {
  it('round-trips the creation time and differs between keys made in the same millisecond', () => {
    const now = Date.UTC(2026, 0, 2, 3, 4, 5, 678);
    const a = newKeyId(now);
    const b = newKeyId(now);
    expect(a).toHaveLength(16);
    expect(createdAtOf(a).getTime()).toBe(now);
    expect(a.equals(b)).toBe(false);
  });

  it('gives foreign ids the epoch', () => {
    expect(createdAtOf(Buffer.from('a1b2', 'hex')).getTime()).toBe(0);
    expect(createdAtOf(Buffer.alloc(16)).getTime()).toBe(0);
  });
});
