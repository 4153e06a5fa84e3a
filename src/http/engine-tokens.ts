import { randomBytes } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from 'pino';
import type { Config } from '../config/schema.js';

/**
 * Engine tokens come from config (WFID_ENGINE_TOKEN, files). On embedded defaults with none
 * configured, one is generated once into `<data_dir>/engine-token` (0600) and reused; the log
 * says where it is, never what it is.
 */
export async function resolveEngineTokens(config: Config, logger: Logger): Promise<string[]> {
  if (config.engine_tokens.length > 0) return config.engine_tokens;
  const path = join(config.data_dir, 'engine-token');
  try {
    const existing = (await readFile(path, 'utf8')).trim();
    if (existing) {
      logger.info({ path }, 'using the generated engine token');
      return [existing];
    }
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  const token = `wfe_${randomBytes(32).toString('base64url')}`;
  await writeFile(path, `${token}\n`, { mode: 0o600, flag: 'wx' });
  logger.info({ path }, 'generated an engine token; engines authenticate with its contents');
  return [token];
}
