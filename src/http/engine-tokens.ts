import { randomBytes } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from 'pino';
import type { Config } from '../config/schema.js';
import { DEFAULT_ENGINE, type Engine } from '../executions/engine.js';

/** One engine token and the engine it authenticates. */
export interface EngineCredential {
  engine: Engine;
  token: string;
}

/**
 * The engine credentials: named ones from `engines`, and the default engine's from
 * `engine_tokens` (WFID_ENGINE_TOKEN, files). On embedded defaults with none configured, one
 * default-engine token is generated once into `<data_dir>/engine-token` (0600) and reused; the
 * log says where it is, never what it is.
 */
export async function resolveEngineCredentials(
  config: Config,
  logger: Logger,
): Promise<EngineCredential[]> {
  const credentials: EngineCredential[] = [
    ...config.engine_tokens.map((token) => ({ engine: { name: DEFAULT_ENGINE }, token })),
    ...config.engines.map(({ token, ...engine }) => ({ engine, token })),
  ];
  if (credentials.length > 0) return credentials;
  return [{ engine: { name: DEFAULT_ENGINE }, token: await generatedToken(config, logger) }];
}

async function generatedToken(config: Config, logger: Logger): Promise<string> {
  const path = join(config.data_dir, 'engine-token');
  try {
    const existing = (await readFile(path, 'utf8')).trim();
    if (existing) {
      logger.info({ path }, 'using the generated engine token');
      return existing;
    }
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  const token = `wfe_${randomBytes(32).toString('base64url')}`;
  await writeFile(path, `${token}\n`, { mode: 0o600, flag: 'wx' });
  logger.info({ path }, 'generated an engine token; engines authenticate with its contents');
  return token;
}
