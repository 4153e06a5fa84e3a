import { z } from 'zod';
import { BACKEND_PLUGINS } from '../../backends/registry.js';
import { JWS_ALGS } from '../jws/algorithms.js';
import { KEY_CREATION, type KeyCreation } from '../keys/plan.js';
import { RESERVED_NAMES } from '../tokens/claims.js';
import { duration, flag } from './fields.js';

export { duration, flag };

const CLAIM_NAME = /^[a-z][a-z0-9_]{0,63}$/;
const ENGINE_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

/**
 * An engine token is a shared secret: long enough that it cannot be guessed, one token exactly
 * as given (no splitting, no trimming: a space or a line break in it is refused, not cut off).
 * Messages never echo the value.
 */
const engineToken = z
  .string()
  .min(
    32,
    'at least 32 characters: an engine token is a shared secret that must resist guessing (e.g. openssl rand -base64 32)',
  )
  .regex(/^[\x21-\x7e]+$/, 'printable ASCII only, no spaces or line breaks (one token)');

/** A claim value fixed by an engine credential. */
const fixedClaim = z.string().min(1).max(256);

type Plugin = (typeof BACKEND_PLUGINS)[number];
/** `{ aws_kms: <its schema>, … }`: every backend's section, as its plugin declares it. */
type BackendSections = {
  [P in Plugin as P extends { section: infer N extends string } ? N : never]: P extends {
    schema: infer S;
  }
    ? S
    : never;
};
const backendSections = Object.fromEntries(
  BACKEND_PLUGINS.flatMap((plugin) =>
    'section' in plugin ? [[plugin.section, plugin.schema]] : [],
  ),
) as BackendSections;

export const configSchema = z
  .object({
    /** The `iss` value and base URL of discovery; derived from host and port when unset. */
    issuer: z.url().optional(),
    host: z.string().default('127.0.0.1'),
    port: z.coerce.number().int().min(0).max(65535).default(8080),
    data_dir: z.string().default('./data'),
    /** Key URI selecting the backend; defaults to `file://<data_dir>/keys`. */
    keys: z
      .object({
        uri: z.string().optional(),
        /** How often the backend is re-listed to see versions made or disabled outside. */
        refresh: duration.default(60_000),
        /**
         * Which versions the issuer makes itself, in every backend (src/keys/plan.ts): `never`,
         * `first` (only when none is usable), `always` (also each rotation's next version).
         */
        create: z.enum(KEY_CREATION).optional(),
      })
      .strict()
      .prefault({}),
    alg: z.enum(JWS_ALGS).default('ES256'),
    /** `sqlite:<path>` (default `sqlite:<data_dir>/wfid.db`), `memory:`, `postgres://…`, `redis://…`. */
    store: z.string().optional(),
    /**
     * Credentials of the default engine: WFID_ENGINE_TOKEN, WFID_ENGINE_TOKEN_FILE, or YAML
     * references (`file:/path`, `env:NAME`), never literals in YAML. Several are for rollover.
     */
    engine_tokens: z.array(engineToken).default([]),
    /**
     * Named engine credentials (YAML only): each engine is a namespace of executions, its name
     * is the `engine` claim, and the claims it fixes cannot be set by its requests.
     */
    engines: z
      .array(
        z
          .object({
            name: z.string().regex(ENGINE_NAME, 'letters, digits and ._- (up to 64)'),
            token: engineToken,
            environment: fixedClaim.optional(),
            instance: fixedClaim.optional(),
          })
          .strict(),
      )
      .default([]),
    tokens: z
      .object({
        lifetime: duration.default(600_000),
        max_lifetime: duration.default(3_600_000),
        subject: z.string().default('workflow:{workflow_id}'),
        /** Tokens per minute per execution; 0 = no limit. */
        rate_limit: z.coerce.number().int().min(0).default(60),
        /** Audience of the token handed in WORKFLOW_ID_TOKEN; defaults to the issuer URL. */
        default_audience: z.string().optional(),
        /** When set, only these audiences may be requested. */
        audiences: z.array(z.string().min(1)).optional(),
        /** Engine-supplied claims that may appear in tokens (names only; values come per execution). */
        extra_claims: z
          .array(z.string().regex(CLAIM_NAME))
          .default([])
          .superRefine((names, ctx) => {
            names.forEach((name, index) => {
              if (RESERVED_NAMES.has(name)) {
                ctx.addIssue({
                  code: 'custom',
                  path: [index],
                  message: `"${name}" is reserved: the issuer sets it in tokens or in the introspection answer`,
                });
              }
            });
          }),
      })
      .strict()
      .prefault({}),
    executions: z
      .object({
        /** Deadline for executions registered without max_duration_s, and the cap for those with one. */
        max_duration: duration.default(86_400_000),
        /**
         * How long a paused execution (an n8n Wait node) keeps its identity before it must resume;
         * on resume its max_duration counts again from the resume.
         */
        max_wait: duration.default(30 * 86_400_000),
        /** How often ended executions past their retention are collected. */
        collect_every: duration.default(300_000),
      })
      .strict()
      .prefault({}),
    jwks: z
      .object({ max_age: duration.default(600_000) })
      .strict()
      .prefault({}),
    /** Token Status Lists (draft-ietf-oauth-status-list): liveness verifiers check offline. */
    status_list: z
      .object({
        /** The `ttl` claim and Cache-Control max-age: how stale a verifier's copy may get. */
        ttl: duration.default(30_000),
        /** `exp - iat` of a list: how long a verifier that cannot refresh may keep using one. */
        lifetime: duration.default(300_000),
        /** Entries per list (a multiple of 8); a full list is followed by a new one. */
        size: z.coerce.number().int().min(8).max(16_777_216).multipleOf(8).default(65_536),
      })
      .strict()
      .prefault({}),
    rotation: z
      .object({
        every: duration.optional(),
        prepublish: duration.default(86_400_000),
        /** Verifier clock skew allowed for: retiring keys and ended executions are kept this much longer. */
        clock_skew: duration.default(300_000),
        /** Disable retired versions in the backend (never destroys them). */
        disable_retired: flag.default(false),
      })
      .strict()
      .prefault({}),
    /** The audit trail: kept in the store, written in batches off the hot path. */
    audit: z
      .object({
        enabled: flag.default(true),
        /** Events older than this are pruned. */
        retention: duration.default(30 * 86_400_000),
        /** A batch is written at least this often… */
        flush_interval: duration.default(1000),
        /** …or as soon as this many events wait. */
        batch_size: z.coerce.number().int().min(1).max(10_000).default(500),
        /** Events held in memory at most while the store is slow or down; beyond, dropped and counted. */
        queue_size: z.coerce.number().int().min(1).max(1_000_000).default(10_000),
      })
      .strict()
      .prefault({}),
    /** Admin credential for GET /v1/audit and /console: WFID_ADMIN_TOKEN or WFID_ADMIN_TOKEN_FILE, never YAML. */
    admin_token: z.string().min(32, 'at least 32 characters').optional(),
    http: z
      .object({
        body_limit: z.coerce.number().int().min(1024).max(1_048_576).default(16_384),
        trust_proxy: flag.default(false),
      })
      .strict()
      .prefault({}),
    /** Backend sections, from backends/registry.ts; each backend owns its schema. */
    ...backendSections,
    log_level: z
      .enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'])
      .default('info'),
  })
  .strict()
  .transform((config, ctx) => {
    const issuer = config.issuer ?? listeningUrl(config.host, config.port);
    if (issuer === undefined) {
      ctx.addIssue({
        code: 'custom',
        path: ['issuer'],
        message: 'required when port is 0 (the port is known only once the server listens)',
      });
      return z.NEVER;
    }
    return {
      ...config,
      issuer,
      keys: {
        ...config.keys,
        uri: config.keys.uri ?? `file://${config.data_dir}/keys`,
        create: config.keys.create ?? deprecatedCreation(config) ?? ('always' as KeyCreation),
      },
      store: config.store ?? `sqlite:${config.data_dir}/wfid.db`,
      tokens: { ...config.tokens, default_audience: config.tokens.default_audience ?? issuer },
    };
  });

/**
 * The issuer when none is configured: the address the server listens on, so that `iss`,
 * discovery and request URLs point where something answers. A wildcard host (`0.0.0.0`, `::`)
 * is not an address a client can use: loopback stands in, and deployments reached from
 * elsewhere set `issuer` to the URL verifiers use.
 */
function listeningUrl(host: string, port: number): string | undefined {
  if (port === 0) return undefined;
  const address = host === '' || host === '0.0.0.0' ? '127.0.0.1' : host === '::' ? '::1' : host;
  return `http://${address.includes(':') ? `[${address}]` : address}:${port}`;
}

export type Config = z.output<typeof configSchema>;
export type ConfigInput = z.input<typeof configSchema>;

/**
 * `keys.create` from the names it replaced, each read only for its own backend:
 * `aws_kms.create_key` (a first key) and `pkcs11.create_keys` (every key).
 */
function deprecatedCreation(config: {
  keys: { uri?: string };
  aws_kms: { create_key?: boolean };
  pkcs11: { create_keys?: boolean };
}): KeyCreation | undefined {
  const uri = config.keys.uri ?? '';
  if (uri.startsWith('awskms:') && config.aws_kms.create_key !== undefined)
    return config.aws_kms.create_key ? 'always' : undefined;
  if (uri.startsWith('pkcs11:') && config.pkcs11.create_keys !== undefined)
    return config.pkcs11.create_keys ? 'always' : 'never';
  return undefined;
}

/** Deprecated names still read, with the name that replaces them. */
export const DEPRECATED_KEYS: Record<string, string> = {
  'aws_kms.create_key': 'keys.create',
  'pkcs11.create_keys': 'keys.create',
};
