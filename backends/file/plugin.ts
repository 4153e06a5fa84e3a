import type { BackendPlugin } from '../../src/keys/backend.js';

/** `file://<directory>`: PKCS#8 PEM key files, for development. No config section. */
export const filePlugin = {
  name: 'file',
  scheme: 'file:',
  open: async (options) => (await import('./index.js')).createBackend(options),
} as const satisfies BackendPlugin<undefined>;
