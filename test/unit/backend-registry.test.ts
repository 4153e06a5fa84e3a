import { describe, expect, it } from 'vitest';
import { BACKEND_PLUGINS } from '../../backends/registry.js';
import { envPaths, loadConfig } from '../../src/config/load.js';
import { isWfidError } from '../../src/errors.js';
import { pluginFor } from '../../src/keys/open.js';

describe('backend registry', () => {
  it('finds each backend by the scheme of its key URI, and names the known schemes otherwise', () => {
    expect(pluginFor('file:///var/lib/wfid/keys').name).toBe('file');
    expect(pluginFor('awskms:///alias/wfid').name).toBe('aws-kms');
    expect(pluginFor('gcpkms://projects/p/locations/l/keyRings/r/cryptoKeys/k').name).toBe(
      'gcp-kms',
    );
    expect(pluginFor('hashivault://wfid').name).toBe('vault-transit');
    expect(pluginFor('pkcs11:token=t;object=o').name).toBe('pkcs11');
    const error = (() => {
      try {
        return pluginFor('azurekv://vault/key');
      } catch (err) {
        return err as Error;
      }
    })();
    expect(isWfidError(error, 'ERR_CONFIG')).toBe(true);
    expect((error as Error).message).toContain('file: awskms: gcpkms: hashivault: pkcs11:');
  });

  it('gives config every section a plugin declares, each with its WFID_ variables', () => {
    const schemes = BACKEND_PLUGINS.map((plugin) => plugin.scheme);
    expect(new Set(schemes).size).toBe(schemes.length);
    const config = loadConfig({ env: {} }) as unknown as Record<string, unknown>;
    const sections = BACKEND_PLUGINS.flatMap((plugin) =>
      'section' in plugin ? [plugin.section] : [],
    );
    expect(sections).toEqual(['aws_kms', 'gcp_kms', 'vault', 'pkcs11']);
    for (const section of sections) expect(typeof config[section]).toBe('object');
    const names = [...envPaths().keys()];
    expect(names).toEqual(
      expect.arrayContaining(['WFID_AWS_KMS_REGION', 'WFID_GCP_KMS_TIMEOUT', 'WFID_PKCS11_PIN']),
    );
  });
});
