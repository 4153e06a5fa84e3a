import { describe, expect, it } from 'vitest';
import { withoutSecrets } from '../../src/cli/common.js';

describe('withoutSecrets (what the CLI prints of a key or store URI)', () => {
  it.each([
    ['postgres://wfid:s3cret@db.internal:5432/wfid', 'postgres://wfid:***@db.internal:5432/wfid'],
    ['redis://:s3cret@redis.internal:6379/0', 'redis://:***@redis.internal:6379/0'],
    [
      'postgres://db/wfid?user=wfid&password=s3cret&ssl=1',
      'postgres://db/wfid?user=wfid&password=***&ssl=1',
    ],
    [
      'pkcs11:token=wfid;object=k?module-path=/lib/p.so&pin-value=1234',
      'pkcs11:token=wfid;object=k?module-path=/lib/p.so&pin-value=***',
    ],
  ])('masks %s', (uri, shown) => {
    expect(withoutSecrets(uri)).toBe(shown);
    expect(withoutSecrets(uri)).not.toContain('s3cret');
  });

  it.each([
    'file://./data/keys',
    'sqlite:./data/wfid.db',
    'hashivault://wfid',
    'awskms://127.0.0.1:4566/alias/wfid',
    'pkcs11:token=wfid;object=k?module-path=/lib/p.so&pin-source=file:/run/pin',
  ])('leaves %s as it is', (uri) => {
    expect(withoutSecrets(uri)).toBe(uri);
  });
});
