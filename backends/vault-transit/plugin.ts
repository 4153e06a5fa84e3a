import type { BackendPlugin } from '../../src/keys/backend.js';
import { type VaultConfig, vaultConfig } from './config.js';

/** `hashivault://<transit key>`: Vault / OpenBao Transit, config section `vault`. */
export const vaultTransitPlugin = {
  name: 'vault-transit',
  scheme: 'hashivault:',
  section: 'vault',
  schema: vaultConfig,
  envSecrets: ['VAULT_TOKEN', 'BAO_TOKEN', 'WFID_VAULT_SECRET_ID'],
  open: async (options) => (await import('./index.js')).createBackend(options),
} as const satisfies BackendPlugin<VaultConfig>;
