import type { BackendPlugin } from '../../src/keys/backend.js';
import { type Pkcs11Config, pkcs11Config } from './config.js';

/** `pkcs11:token=…;object=…`: an HSM through its PKCS#11 module, config section `pkcs11`. */
export const pkcs11Plugin = {
  name: 'pkcs11',
  scheme: 'pkcs11:',
  section: 'pkcs11',
  schema: pkcs11Config,
  /** The user PIN: from WFID_PKCS11_PIN (or a pin-source file), never the YAML file. */
  secrets: ['pin'],
  open: async (options) => (await import('./index.js')).createBackend(options),
} as const satisfies BackendPlugin<Pkcs11Config>;
