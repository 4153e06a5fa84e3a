import { awsKmsPlugin } from './aws-kms/plugin.js';
import { filePlugin } from './file/plugin.js';
import { gcpKmsPlugin } from './gcp-kms/plugin.js';
import { pkcs11Plugin } from './pkcs11/plugin.js';
import { vaultTransitPlugin } from './vault-transit/plugin.js';

/**
 * Every key backend the issuer knows: config learns the backends' sections and secrets from
 * here, and src/keys/open.ts finds the one a key URI names. A new backend is a folder with a
 * plugin.ts, listed here.
 */
export const BACKEND_PLUGINS = [
  filePlugin,
  awsKmsPlugin,
  gcpKmsPlugin,
  vaultTransitPlugin,
  pkcs11Plugin,
] as const;
