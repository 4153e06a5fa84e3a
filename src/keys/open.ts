import type { Logger } from 'pino';
import type { Config } from '../config/schema.js';
import { WfidError } from '../errors.js';
import { importOptional } from '../optional-package.js';
import type { BackendFactory, KeyBackend } from './backend.js';

/** Key URI scheme → backend folder. Backends load on demand so unused SDKs are never imported. */
const BACKENDS: Record<string, string> = {
  'file:': 'file',
  'awskms:': 'aws-kms',
  'gcpkms:': 'gcp-kms',
  'hashivault:': 'vault-transit',
  'pkcs11:': 'pkcs11',
};

export function backendNameFor(uri: string): string {
  const scheme = /^[a-z0-9]+:/.exec(uri)?.[0] ?? '';
  const name = BACKENDS[scheme];
  if (!name) {
    throw new WfidError(
      'ERR_CONFIG',
      `keys: unknown key URI scheme in "${uri}" (expected one of ${Object.keys(BACKENDS).join(' ')})`,
    );
  }
  return name;
}

export async function openBackend(config: Config, logger: Logger): Promise<KeyBackend> {
  const name = backendNameFor(config.keys.uri);
  const module = (await import(`../../backends/${name}/index.js`)) as {
    createBackend: BackendFactory;
  };
  return module.createBackend({
    uri: config.keys.uri,
    alg: config.alg,
    config,
    logger: logger.child({ backend: name }),
  });
}

/** Loads a backend's SDK on demand (each backend calls this instead of a static import). */
export function importSdk<T>(backend: string, pkg: string): Promise<T> {
  return importOptional<T>(pkg, `the ${backend} backend`);
}
