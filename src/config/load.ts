import { existsSync, readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { BACKEND_PLUGINS } from '../../backends/registry.js';
import { WfidError } from '../errors.js';
import { DEFAULT_ENGINE, ENGINE_FIXED_CLAIMS } from '../executions/engine.js';
import { checkFixedSubjectValues, delimitedSubjectClaims } from '../tokens/claims.js';
import { formatDuration } from './duration.js';
import { type Config, configSchema, DEPRECATED_KEYS } from './schema.js';

/** Env names that the contract fixes but that differ from the mechanical `WFID_<PATH>` name. */
const ENV_ALIASES: Record<string, string> = {
  WFID_KEYS: 'keys.uri',
  WFID_ENGINE_TOKEN: 'engine_tokens',
};

export interface LoadOptions {
  /** Path of the YAML file; defaults to WFID_CONFIG, then `./wfid.yaml` if it exists. */
  file?: string;
  env?: NodeJS.ProcessEnv;
  /** Values that win over file and env (CLI flags, tests). */
  overrides?: Record<string, unknown>;
}

/**
 * Reads the YAML file, applies `WFID_…` environment variables over it (nested keys joined by
 * `_`, upper-cased) and validates the result, naming the offending key (and its env variable)
 * in the error.
 */
export function loadConfig(options: LoadOptions = {}): Config {
  const env = options.env ?? process.env;
  const file =
    options.file ?? env.WFID_CONFIG ?? (existsSync('wfid.yaml') ? 'wfid.yaml' : undefined);
  const raw: Record<string, unknown> = file ? readYaml(file) : {};
  refuseSecretsInFile(raw, file);
  const fromEnv = new Map<string, string>();

  if (Array.isArray(raw.engine_tokens)) {
    raw.engine_tokens = raw.engine_tokens.map((entry, index) =>
      resolveSecretReference(String(entry), env, `engine_tokens.${index}`),
    );
  }
  if (Array.isArray(raw.engines)) {
    raw.engines = raw.engines.map((entry, index) =>
      typeof entry === 'object' && entry !== null && 'token' in entry
        ? {
            ...entry,
            token: resolveSecretReference(String(entry.token), env, `engines.${index}.token`),
          }
        : entry,
    );
  }
  if (typeof raw.keys === 'string') raw.keys = { uri: raw.keys };

  for (const [name, path] of envPaths()) {
    const value = env[name];
    if (value === undefined || value === '') continue;
    if (path === 'engine_tokens' && value.includes(',')) {
      // Commas used to separate several tokens; now one variable is one token, taken as is.
      throw new WfidError(
        'ERR_CONFIG',
        `engine_tokens (${name}): holds exactly one token and it contains a comma; list several credentials as file references in engine_tokens or under engines`,
      );
    }
    setPath(
      raw,
      path,
      path === 'engine_tokens'
        ? [value]
        : isArrayPath(path)
          ? value
              .split(',')
              .map((item) => item.trim())
              .filter(Boolean)
          : value,
    );
    fromEnv.set(path, name);
  }
  const tokenFile = env.WFID_ENGINE_TOKEN_FILE;
  if (tokenFile) {
    const tokens = Array.isArray(raw.engine_tokens) ? raw.engine_tokens : [];
    raw.engine_tokens = [...tokens, readSecretFile(tokenFile, 'WFID_ENGINE_TOKEN_FILE')];
  }
  const adminFile = env.WFID_ADMIN_TOKEN_FILE;
  if (adminFile && !env.WFID_ADMIN_TOKEN) {
    raw.admin_token = readSecretFile(adminFile, 'WFID_ADMIN_TOKEN_FILE');
    fromEnv.set('admin_token', 'WFID_ADMIN_TOKEN_FILE');
  }
  for (const [path, value] of Object.entries(options.overrides ?? {})) setPath(raw, path, value);

  const result = configSchema.safeParse(raw);
  if (!result.success) {
    const lines = result.error.issues.map((issue) => {
      const path = issue.path.join('.');
      // An issue inside a list (`tokens.extra_claims.1`) comes from where the list came from.
      const source =
        issue.path
          .map((_, end) => fromEnv.get(issue.path.slice(0, issue.path.length - end).join('.')))
          .find(Boolean) ?? (file ? `${file}` : 'config');
      return `${path || '(root)'} (${source}): ${issue.message}`;
    });
    throw new WfidError('ERR_CONFIG', `invalid configuration:\n  ${lines.join('\n  ')}`);
  }
  const config = result.data;
  checkConsistency(config);
  warnDeprecated(raw, fromEnv);
  return config;
}

/** One line on stderr per deprecated name in use, naming its replacement. */
function warnDeprecated(raw: Record<string, unknown>, fromEnv: Map<string, string>): void {
  for (const [path, replacement] of Object.entries(DEPRECATED_KEYS)) {
    const [section, key] = path.split('.') as [string, string];
    const value = raw[section];
    if (typeof value !== 'object' || value === null || !(key in value)) continue;
    const source = fromEnv.get(path) ?? path;
    process.stderr.write(
      `wfid: ${source} is deprecated; use ${replacement} (never | first | always)\n`,
    );
  }
}

/**
 * The environment variables that hand the issuer a secret: those of its secret settings
 * (WFID_ENGINE_TOKEN, WFID_ADMIN_TOKEN, WFID_PKCS11_PIN…), the store and key URIs (a password
 * in `postgres://user:pw@…`, a `pin-value=`), those the configured backend reads credentials
 * from itself (VAULT_TOKEN…), and any variable holding an engine token (an `env:NAME`
 * reference, or a copy under another name; engine tokens are long enough that no other value
 * matches by chance). An issuer sharing its process with the code it serves (in-process in
 * n8n) removes them once started, so that code's `$env` cannot read them.
 */
export function secretEnvNames(config: Config, env: NodeJS.ProcessEnv): string[] {
  const tokens = new Set<unknown>([
    ...config.engine_tokens,
    ...config.engines.map((engine) => engine.token),
  ]);
  const keysUri = config.keys.uri ?? '';
  const named = new Set<string>([
    'WFID_ENGINE_TOKEN',
    'WFID_STORE',
    'WFID_KEYS',
    ...SECRET_KEYS.map(envName),
    ...BACKEND_PLUGINS.flatMap((plugin) =>
      'envSecrets' in plugin && keysUri.startsWith(plugin.scheme) ? plugin.envSecrets : [],
    ),
  ]);
  return Object.keys(env).filter((name) => named.has(name) || tokens.has(env[name]));
}

/** Config keys that hold secrets: accepted from env (WFID_…), never from the YAML file. */
const SECRET_KEYS = [
  'admin_token',
  ...BACKEND_PLUGINS.flatMap((plugin) =>
    'secrets' in plugin ? plugin.secrets.map((key) => `${plugin.section}.${key}`) : [],
  ),
];

/** The variable of a config path: `tokens.max_lifetime` → `WFID_TOKENS_MAX_LIFETIME`. */
function envName(path: string): string {
  return `WFID_${path.replaceAll('.', '_').toUpperCase()}`;
}

function refuseSecretsInFile(raw: Record<string, unknown>, file: string | undefined): void {
  for (const path of SECRET_KEYS) {
    const [section, key] = path.includes('.') ? (path.split('.') as [string, string]) : ['', path];
    const value = section ? raw[section] : raw;
    if (typeof value === 'object' && value !== null && key in value) {
      const env = envName(path);
      throw new WfidError(
        'ERR_CONFIG',
        `${path} (${file}): secrets are not read from the YAML file; set ${env} or use a file reference`,
      );
    }
  }
}

/** Rules that span several keys; each error names the keys and the fix. */
function checkConsistency(config: Config): void {
  const { tokens, jwks, keys, rotation, status_list: statusList } = config;
  const fail = (message: string): never => {
    throw new WfidError('ERR_CONFIG', message);
  };
  if (tokens.lifetime > tokens.max_lifetime)
    fail('tokens.lifetime: longer than tokens.max_lifetime');
  if (keys.refresh < 1000) fail('keys.refresh: at least 1s');
  if (statusList.ttl < 1000) fail('status_list.ttl: at least 1s (the ttl claim counts seconds)');
  if (statusList.lifetime < statusList.ttl) {
    fail(
      'status_list.lifetime: shorter than status_list.ttl (a list would expire before its refresh)',
    );
  }
  // A new key signs only after every verifier cache of the JWKS without it has expired: one
  // max-age after the slowest replica (up to one refresh late) started serving it.
  if (jwks.max_age + keys.refresh > rotation.prepublish) {
    fail(
      `jwks.max_age (${formatDuration(jwks.max_age)}) plus keys.refresh (${formatDuration(keys.refresh)}) exceeds rotation.prepublish (${formatDuration(rotation.prepublish)}): verifiers could meet a new key before they have cached it. Lower jwks.max_age or raise rotation.prepublish`,
    );
  }
  if (rotation.every !== undefined && rotation.every <= rotation.prepublish) {
    fail(
      'rotation.every: must be longer than rotation.prepublish (a new version is prepared prepublish before it signs)',
    );
  }
  // WORKFLOW_ID_TOKEN is minted for the default audience at every registration.
  if (tokens.audiences && !tokens.audiences.includes(tokens.default_audience)) {
    fail(
      `tokens.audiences: does not list tokens.default_audience (${tokens.default_audience}), the audience of WORKFLOW_ID_TOKEN, so every registration would be refused; add it, or set tokens.default_audience to one of the audiences`,
    );
  }
  checkEngines(config, fail);
}

/** Engine names are namespaces and a token must say which engine presents it: both unique. */
function checkEngines(config: Config, fail: (message: string) => never): void {
  const owners = new Map<string, string>();
  const credentials = [
    ...config.engine_tokens.map((token) => ({ name: DEFAULT_ENGINE, token })),
    ...config.engines,
  ];
  const named = new Set<string>();
  for (const [index, engine] of config.engines.entries()) {
    if (named.has(engine.name)) fail(`engines.${index}.name: "${engine.name}" is listed twice`);
    named.add(engine.name);
    const { name, environment, instance } = engine;
    checkFixedSubjectValues(
      config.tokens.subject,
      config.tokens.extra_claims,
      { engine: name, environment, instance },
      `engines.${index}`,
    );
  }
  if (named.has(DEFAULT_ENGINE) && config.engine_tokens.length > 0) {
    fail(
      `engines: an engine named "${DEFAULT_ENGINE}" and engine_tokens (WFID_ENGINE_TOKEN) both define the default engine; keep one`,
    );
  }
  for (const { name, token } of credentials) {
    const owner = owners.get(token);
    if (owner !== undefined && owner !== name)
      fail(`engines: engines "${owner}" and "${name}" share a token; each needs its own`);
    owners.set(token, name);
  }
  checkSubjectNamesEngine(config, [...new Set(credentials.map(({ name }) => name))], fail);
}

/**
 * With several engines, `sub` must tell them apart. Workflow and execution ids are unique per
 * engine only (two n8n instances both have a workflow "1"), and verifiers often match `sub`
 * alone: an AWS trust policy can test only `aud` and `sub`. So the template names {engine}, or
 * claims that every engine credential fixes, whose values together differ between engines
 * (environment, instance); each delimited, so that it can be read back from the sub.
 */
function checkSubjectNamesEngine(
  config: Config,
  engineNames: string[],
  fail: (message: string) => never,
): void {
  if (engineNames.length < 2) return;
  const named = delimitedSubjectClaims(config.tokens.subject, config.tokens.extra_claims);
  if (named.includes('engine')) return;
  const credentials = engineNames.map((name) =>
    config.engines.find((engine) => engine.name === name),
  );
  const fixed = ENGINE_FIXED_CLAIMS.filter(
    (field) =>
      named.includes(field) && credentials.every((engine) => engine?.[field] !== undefined),
  );
  const values = credentials.map((engine) => JSON.stringify(fixed.map((field) => engine?.[field])));
  if (fixed.length > 0 && new Set(values).size === values.length) return;
  fail(
    `tokens.subject: "${config.tokens.subject}" does not say which engine a token belongs to, and ${engineNames.length} engines (${engineNames.join(', ')}) share this issuer: their tokens for workflows with the same id would carry the same sub, which verifiers that match sub alone cannot tell apart; add {engine} between separators, e.g. "engine:{engine}:workflow:{workflow_id}"`,
  );
}

function readYaml(file: string): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new WfidError('ERR_CONFIG', `cannot read config file ${file}: ${(err as Error).message}`);
  }
  const parsed = parseYaml(text) ?? {};
  if (typeof parsed !== 'object' || Array.isArray(parsed)) {
    throw new WfidError('ERR_CONFIG', `config file ${file}: expected a mapping at the top level`);
  }
  return parsed as Record<string, unknown>;
}

/**
 * Secrets are not written into the YAML file itself: an entry names where the secret lives,
 * `file:/run/secrets/engine-token` or `env:NAME`.
 */
export function resolveSecretReference(
  entry: string,
  env: NodeJS.ProcessEnv,
  key = 'engine_tokens',
): string {
  if (entry.startsWith('file:')) return readSecretFile(entry.slice(5), key);
  if (entry.startsWith('env:')) {
    const value = env[entry.slice(4)];
    if (!value)
      throw new WfidError(
        'ERR_CONFIG',
        `${key}: environment variable ${entry.slice(4)} is not set`,
      );
    return value;
  }
  throw new WfidError(
    'ERR_CONFIG',
    `${key}: secrets are not read from the YAML file; use a reference "file:/path" or "env:NAME" (or WFID_ENGINE_TOKEN, WFID_ENGINE_TOKEN_FILE for the default engine)`,
  );
}

/**
 * A secret file holds one secret. Only the line break that ends the file is dropped (editors
 * and `echo` add one); anything else stays, so a second line or a stray space is refused by
 * the schema rather than silently cut off.
 */
function readSecretFile(path: string, what: string): string {
  try {
    return readFileSync(path, 'utf8').replace(/\r?\n$/, '');
  } catch (err) {
    throw new WfidError(
      'ERR_CONFIG',
      `${what}: cannot read ${path}: ${(err as NodeJS.ErrnoException).code ?? 'error'}`,
    );
  }
}

let cachedEnvPaths: Map<string, string> | undefined;

/** Every leaf of the schema with its env name: `tokens.max_lifetime` → `WFID_TOKENS_MAX_LIFETIME`. */
export function envPaths(): Map<string, string> {
  if (!cachedEnvPaths) {
    cachedEnvPaths = new Map(Object.entries(ENV_ALIASES));
    const aliased = new Set(Object.values(ENV_ALIASES));
    for (const path of leafPaths(configSchema, [])) {
      if (!aliased.has(path)) cachedEnvPaths.set(envName(path), path);
    }
  }
  return cachedEnvPaths;
}

const arrayPaths = new Set<string>();

function isArrayPath(path: string): boolean {
  envPaths();
  return arrayPaths.has(path);
}

function leafPaths(schema: z.ZodType, prefix: string[]): string[] {
  const inner = unwrap(schema);
  // A list of objects (engines) has no flat env form: YAML only.
  if (inner instanceof z.ZodArray && unwrap(inner.element as z.ZodType) instanceof z.ZodObject)
    return [];
  if (inner instanceof z.ZodObject) {
    return Object.entries(inner.shape).flatMap(([key, child]) =>
      leafPaths(child as z.ZodType, [...prefix, key]),
    );
  }
  if (inner instanceof z.ZodArray) arrayPaths.add(prefix.join('.'));
  return [prefix.join('.')];
}

function unwrap(schema: z.ZodType): z.ZodType {
  let current: z.ZodType = schema;
  for (;;) {
    if (
      current instanceof z.ZodDefault ||
      current instanceof z.ZodPrefault ||
      current instanceof z.ZodOptional
    )
      current = current.unwrap() as z.ZodType;
    else if (current instanceof z.ZodPipe) current = current.in as z.ZodType;
    else return current;
  }
}

function setPath(target: Record<string, unknown>, path: string, value: unknown): void {
  const keys = path.split('.');
  let node = target;
  for (const key of keys.slice(0, -1)) {
    if (typeof node[key] !== 'object' || node[key] === null) node[key] = {};
    node = node[key] as Record<string, unknown>;
  }
  node[keys.at(-1)!] = value;
}
