import { describe, expect, it } from 'vitest';
import { importOptional } from '../../src/optional-package.js';

describe('importOptional', () => {
  it('loads an installed package', async () => {
    const yaml = await importOptional<{ parse: unknown }>('yaml', 'the test');
    expect(typeof yaml.parse).toBe('function');
  });

  it('names the package to install when it is missing', async () => {
    const error = await importOptional<never>('wfid-no-such-package', 'the example backend').catch(
      (err: Error) => err,
    );
    expect(error).toMatchObject({ code: 'ERR_SDK_MISSING' });
    expect(error.message).toBe(
      'the example backend needs the package wfid-no-such-package: npm install wfid-no-such-package',
    );
  });
});
