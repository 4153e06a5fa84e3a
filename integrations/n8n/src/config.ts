import { readFileSync } from 'node:fs';
import { flag } from './identity/policy.js';

/** How the hooks file reaches the issuer and what it adds to each registration. */
export interface HooksConfig {
  /** Unset: the hooks do nothing but log once (the node may still use a credential). */
  issuerUrl?: string;
  engineToken?: string;
  environment?: string;
  /** Sent as `instance` instead of n8n's instance id (to match an engine credential that fixes it). */
  instance?: string;
  maxDurationS?: number;
  /**
   * How long the start of an execution may wait for the issuer (WFID_N8N_START_BUDGET_MS,
   * default 1000). A slower registration goes on in the background; the node awaits it.
   */
  startBudgetMs: number;
  /** Start the issuer inside n8n (single-instance installs). */
  inProcess: boolean;
  /**
   * The only directory token files are written to (`<dir>/<execution id>.jwt`). With an
   * audience the hooks keep every execution's file fresh; without one only the node's
   * "Token File" option writes there.
   */
  tokenFile?: { dir: string; audience?: string; lifetimeS?: number };
}

export const DEFAULT_START_BUDGET_MS = 1000;

/**
 * Reads the hooks' settings from the n8n process environment:
 * WFID_ISSUER_URL, WFID_ENGINE_TOKEN or WFID_ENGINE_TOKEN_FILE, WFID_N8N_ENVIRONMENT, WFID_N8N_INSTANCE,
 * WFID_N8N_MAX_DURATION_S, WFID_N8N_START_BUDGET_MS, WFID_IN_PROCESS, WFID_TOKEN_FILE_DIR (+ WFID_TOKEN_FILE_AUDIENCE,
 * WFID_TOKEN_FILE_LIFETIME_S). Errors name the variable, never its value.
 */
export function hooksConfigFromEnv(env: NodeJS.ProcessEnv = process.env): HooksConfig {
  const config: HooksConfig = {
    issuerUrl: env.WFID_ISSUER_URL || undefined,
    engineToken: engineToken(env),
    environment: env.WFID_N8N_ENVIRONMENT || undefined,
    instance: env.WFID_N8N_INSTANCE || undefined,
    maxDurationS: positiveInt(env, 'WFID_N8N_MAX_DURATION_S'),
    startBudgetMs: positiveInt(env, 'WFID_N8N_START_BUDGET_MS') ?? DEFAULT_START_BUDGET_MS,
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
  if (audience && !dir) throw new Error('WFID_TOKEN_FILE_AUDIENCE needs WFID_TOKEN_FILE_DIR');
  if (dir) {
    config.tokenFile = {
      dir,
      audience: audience || undefined,
      lifetimeS: positiveInt(env, 'WFID_TOKEN_FILE_LIFETIME_S'),
    };
  }
  return config;
}

/** What the node reads from the n8n process environment (the operator's, not a workflow's). */
export interface NodeSettings {
  /** WFID_N8N_ENVIRONMENT and WFID_N8N_INSTANCE, as the hooks send them. */
  environment?: string;
  instance?: string;
  /** WFID_TOKEN_FILE_DIR: where the "Token File" option writes; unset = the option is refused. */
  tokenFileDir?: string;
  /** Deadline of executions the node registers itself (no hooks file): WFID_N8N_NODE_MAX_DURATION_S, default 900. */
  nodeMaxDurationS: number;
  /** WFID_N8N_REQUEST_CREDENTIALS_IN_OUTPUT=true lets "Include Request Credentials" put the request token in item data. */
  requestCredentialsInOutput: boolean;
  /**
   * WFID_ISSUER_URL, the operator's issuer: a Workflow Identity Issuer credential's engine token
   * is sent to this URL only, and nowhere while it is unset (credentialIssuer).
   */
  issuerUrl?: string;
}

export const DEFAULT_NODE_MAX_DURATION_S = 900;

export function nodeSettingsFromEnv(env: NodeJS.ProcessEnv = process.env): NodeSettings {
  return {
    environment: env.WFID_N8N_ENVIRONMENT || undefined,
    instance: env.WFID_N8N_INSTANCE || undefined,
    tokenFileDir: env.WFID_TOKEN_FILE_DIR || undefined,
    nodeMaxDurationS:
      positiveInt(env, 'WFID_N8N_NODE_MAX_DURATION_S') ?? DEFAULT_NODE_MAX_DURATION_S,
    requestCredentialsInOutput: flag(env, 'WFID_N8N_REQUEST_CREDENTIALS_IN_OUTPUT'),
    issuerUrl: env.WFID_ISSUER_URL || undefined,
  };
}

/**
 * The URL a Workflow Identity Issuer credential's engine token is sent to. Whoever may edit the
 * credential can change its Issuer URL, and n8n keeps the hidden engine token when the other
 * fields change: without a check, an editor could point it at their own server (or at a
 * webhook path on the issuer's own host) and receive a token that registers any workflow. So
 * the operator names the issuer in n8n's environment (WFID_ISSUER_URL), which editors of
 * credentials cannot change; the credential must name the same URL, and the token goes there.
 */
export function credentialIssuer(credentialUrl: string, settings: NodeSettings): string {
  if (!settings.issuerUrl) {
    throw new Error(
      'workflow-identity: set WFID_ISSUER_URL in n8n’s environment to the issuer’s URL: a Workflow Identity Issuer credential’s engine token is sent only there (whoever may edit the credential could otherwise point it at another server)',
    );
  }
  // Parsed and serialised (case, default port, dot segments), without trailing slashes.
  const normal = (url: string) =>
    URL.canParse(url) ? new URL(url).href.replace(/\/+$/, '') : undefined;
  const given = normal(credentialUrl);
  if (!given) throw new Error('workflow-identity: the credential’s Issuer URL is not a URL');
  if (given !== normal(settings.issuerUrl)) {
    throw new Error(
      `workflow-identity: the credential’s Issuer URL (${new URL(given).origin}) is not the issuer this n8n is set up for (WFID_ISSUER_URL): its engine token is sent there only`,
    );
  }
  return settings.issuerUrl;
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
