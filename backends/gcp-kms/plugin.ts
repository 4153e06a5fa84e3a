import type { BackendPlugin } from '../../src/keys/backend.js';
import { type GcpKmsConfig, gcpKmsConfig } from './config.js';

/** `gcpkms://projects/…/cryptoKeys/K[/cryptoKeyVersions/V]`: Cloud KMS, section `gcp_kms`. */
export const gcpKmsPlugin = {
  name: 'gcp-kms',
  scheme: 'gcpkms:',
  section: 'gcp_kms',
  schema: gcpKmsConfig,
  open: async (options) => (await import('./index.js')).createBackend(options),
} as const satisfies BackendPlugin<GcpKmsConfig>;
