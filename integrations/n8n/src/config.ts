import { readFileSync } from 'node:fs';

/** How the hooks file reaches the issuer and what it adds to each registration. */
export interface HooksConfig {
  /** Unset: the hooks do nothing but log once (the node may still use a credential). */
  issuerUrl?: string;
  engineToken?: string;
  environment?: string;
  maxDurationS?: number;
  /** Start the issuer inside n8n (single-instance installs). */
  inProcess: boolean;
  /** Keep `<dir>/<execution id>.jwt` fresh for SDKs, for this audience. */
  tokenFile?: { dir: string; audience: string; lifetimeS?: number };
}

/**
 * Reads the hooks' settings from the n8n process environment:
 * WFID_ISSUER_URL, WFID_ENGINE_TOKEN or WFID_ENGINE_TOKEN_FILE, WFID_N8N_ENVIRONMENT,
 * WFID_N8N_MAX_DURATION_S, WFID_IN_PROCESS, WFID_TOKEN_FILE_DIR + WFID_TOKEN_FILE_AUDIENCE
 * (+ WFID_TOKEN_FILE_LIFETIME_S). Errors name the variable, never its value.
 */
export function hooksConfigFromEnv(env: NodeJS.ProcessEnv = process.env): HooksConfig {
  const config: HooksConfig = {
    issuerUrl: env.WFID_ISSUER_URL || undefined,
    engineToken: engineToken(env),
    environment: env.WFID_N8N_ENVIRONMENT || undefined,
    maxDurationS: positiveInt(env, 'WFID_N8N_MAX_DURATION_S'),
    inProcess: flag(env, 'WFID_IN_PROCESS'),
  };
  if (config.issuerUrl) {
    try {
      new URL(config.issuerUrl);
    } catch {
      throw new Error('WFID_ISSUER_URL: not a URL');
    }
  }
  const dir = env.WFID_TOKEN_FILE_DIR;
  const audience = env.WFID_TOKEN_FILE_AUDIENCE;
  if (dir || audience) {
    if (!dir || !audience) {
      throw new Error('WFID_TOKEN_FILE_DIR and WFID_TOKEN_FILE_AUDIENCE must be set together');
    }
    config.tokenFile = { dir, audience, lifetimeS: positiveInt(env, 'WFID_TOKEN_FILE_LIFETIME_S') };
  }
  return config;
}

function engineToken(env: NodeJS.ProcessEnv): string | undefined {
  if (env.WFID_ENGINE_TOKEN) return env.WFID_ENGINE_TOKEN;
  const file = env.WFID_ENGINE_TOKEN_FILE;
  if (!file) return undefined;
  try {
    return readFileSync(file, 'utf8').trim() || undefined;
  } catch (cause) {
    throw new Error(`WFID_ENGINE_TOKEN_FILE: cannot read ${file}`, { cause });
  }
}

function positiveInt(env: NodeJS.ProcessEnv, name: string): number | undefined {
  const raw = env[name];
  if (!raw) return undefined;
  const value = Number(raw);
  if (!Number.isInteger(value) || value <= 0)
    throw new Error(`${name}: expected a positive integer`);
  return value;
}

function flag(env: NodeJS.ProcessEnv, name: string): boolean {
  const raw = (env[name] ?? '').toLowerCase();
  if (['', '0', 'false', 'no', 'off'].includes(raw)) return false;
  if (['1', 'true', 'yes', 'on'].includes(raw)) return true;
  throw new Error(`${name}: expected true or false`);
}
