import type { Logger } from 'pino';
import { BACKEND_PLUGINS } from '../../backends/registry.js';
import type { Config } from '../config/schema.js';
import { WfidError } from '../errors.js';
import type { BackendPlugin, KeyBackend } from './backend.js';

/** The backend a key URI names, by its scheme (backends/registry.ts). */
export function pluginFor(uri: string): BackendPlugin {
  const scheme = /^[a-z0-9]+:/.exec(uri)?.[0] ?? '';
  const plugin = BACKEND_PLUGINS.find((candidate) => candidate.scheme === scheme);
  if (!plugin) {
    throw new WfidError(
      'ERR_CONFIG',
      `keys: unknown key URI scheme in "${uri}" (expected one of ${BACKEND_PLUGINS.map((candidate) => candidate.scheme).join(' ')})`,
    );
  }
  return plugin as BackendPlugin;
}

/**
 * Opens the backend of `keys.uri` with its own config section only. Its code (and SDK) loads
 * here, on demand, so unused SDKs are never imported. Opening never makes a key.
 */
export async function openBackend(config: Config, logger: Logger): Promise<KeyBackend> {
  const plugin = pluginFor(config.keys.uri);
  const sections = config as unknown as Record<string, unknown>;
  return plugin.open({
    uri: config.keys.uri,
    alg: config.alg,
    section: plugin.section ? sections[plugin.section] : undefined,
    create: config.keys.create,
    logger: logger.child({ backend: plugin.name }),
  });
}
