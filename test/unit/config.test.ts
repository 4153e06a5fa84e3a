import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseDuration } from '../../src/config/duration.js';
import { envPaths, loadConfig, secretEnvNames } from '../../src/config/load.js';

const TOKEN_A = 'engine-token-a-0123456789abcdefghijklmnop';
const TOKEN_B = 'engine-token-b-0123456789abcdefghijklmnop';

/** The ERR_CONFIG message loadConfig throws, or undefined. */
/** A scratch directory and the path of a `wfid.yaml` in it (not written yet). */
async function configDir(): Promise<{ dir: string; file: string }> {
  const dir = await mkdtemp(join(tmpdir(), 'wfid-config-'));
  return { dir, file: join(dir, 'wfid.yaml') };
}

function configError(options: Parameters<typeof loadConfig>[0]): string | undefined {
  try {
    loadConfig(options);
  } catch (err) {
    expect(err).toMatchObject({ code: 'ERR_CONFIG' });
    return (err as Error).message;
  }
  return undefined;
}

describe('config', () => {
  it('runs on embedded defaults with no file and no env', () => {
    const config = loadConfig({ env: {} });
    expect(config).toMatchObject({
      issuer: 'http://127.0.0.1:8080',
      port: 8080,
      keys: { uri: 'file://./data/keys', refresh: 60_000 },
      store: 'sqlite:./data/wfid.db',
      alg: 'ES256',
      tokens: {
        lifetime: 600_000,
        max_lifetime: 3_600_000,
        subject: 'workflow:{workflow_id}',
        default_audience: 'http://127.0.0.1:8080',
      },
      jwks: { max_age: 600_000 },
      status_list: { ttl: 30_000, lifetime: 300_000, size: 65_536 },
      rotation: { prepublish: 86_400_000 },
    });
  });

  it('refuses status list settings a verifier could not use', () => {
    const refused = (env: Record<string, string>, key: string) =>
      expect(() => loadConfig({ env })).toThrowError(
        expect.objectContaining({ code: 'ERR_CONFIG', message: expect.stringContaining(key) }),
      );
    refused({ WFID_STATUS_LIST_TTL: '500ms' }, 'status_list.ttl');
    refused(
      { WFID_STATUS_LIST_TTL: '10m', WFID_STATUS_LIST_LIFETIME: '5m' },
      'status_list.lifetime',
    );
    refused({ WFID_STATUS_LIST_SIZE: '1000001' }, 'status_list.size');
    refused({ WFID_STATUS_LIST_SIZE: '0' }, 'status_list.size');
    expect(
      loadConfig({ env: { WFID_STATUS_LIST_TTL: '5s', WFID_STATUS_LIST_SIZE: '1024' } })
        .status_list,
    ).toEqual({ ttl: 5_000, lifetime: 300_000, size: 1024 });
  });

  it('maps every contract env name onto its key', () => {
    const names = [...envPaths().keys()];
    for (const name of [
      'WFID_ISSUER',
      'WFID_HOST',
      'WFID_PORT',
      'WFID_DATA_DIR',
      'WFID_KEYS',
      'WFID_ALG',
      'WFID_STORE',
      'WFID_ENGINE_TOKEN',
      'WFID_TOKENS_LIFETIME',
      'WFID_TOKENS_MAX_LIFETIME',
      'WFID_TOKENS_SUBJECT',
      'WFID_TOKENS_RATE_LIMIT',
      'WFID_JWKS_MAX_AGE',
      'WFID_ROTATION_EVERY',
      'WFID_ROTATION_PREPUBLISH',
    ]) {
      expect(names).toContain(name);
    }
    const config = loadConfig({
      env: {
        WFID_KEYS: 'file:///var/lib/wfid/keys',
        WFID_PORT: '9000',
        WFID_TOKENS_MAX_LIFETIME: '2h',
        WFID_ENGINE_TOKEN: TOKEN_A,
        WFID_ROTATION_EVERY: '30d',
        WFID_ROTATION_DISABLE_RETIRED: 'false',
        WFID_DATA_DIR: '/srv/wfid',
      },
    });
    expect(config.keys.uri).toBe('file:///var/lib/wfid/keys');
    expect(config.port).toBe(9000);
    expect(config.tokens.max_lifetime).toBe(7_200_000);
    expect(config.engine_tokens).toEqual([TOKEN_A]);
    expect(config.rotation.every).toBe(30 * 86_400_000);
    expect(config.rotation.disable_retired).toBe(false);
    expect(config.store).toBe('sqlite:/srv/wfid/wfid.db');
  });

  it('reads YAML, lets env win, and names the key and its source in errors', async () => {
    const { file } = await configDir();
    await writeFile(
      file,
      'issuer: https://id.example.com\nkeys: file://./k\ntokens:\n  lifetime: 5m\n',
    );
    expect(loadConfig({ file, env: { WFID_TOKENS_LIFETIME: '7m' } })).toMatchObject({
      issuer: 'https://id.example.com',
      keys: { uri: 'file://./k' },
      tokens: { lifetime: 420_000 },
    });
    expect(() => loadConfig({ file, env: { WFID_TOKENS_LIFETIME: 'soon' } })).toThrow(
      /tokens\.lifetime \(WFID_TOKENS_LIFETIME\)/,
    );
    await writeFile(file, 'tokens:\n  lifetim: 5m\n');
    expect(() => loadConfig({ file, env: {} })).toThrowError(
      expect.objectContaining({ code: 'ERR_CONFIG' }),
    );
    expect(() => loadConfig({ env: { WFID_TOKENS_LIFETIME: '2h' } })).toThrow(/tokens\.lifetime/);
  });

  it('refuses secrets written into the YAML file, but follows file: and env: references', async () => {
    const { dir, file } = await configDir();
    await writeFile(file, 'engine_tokens: ["s3cret-literal"]\n');
    const error = (() => {
      try {
        loadConfig({ file, env: {} });
      } catch (err) {
        return err as Error;
      }
    })();
    expect(error).toMatchObject({ code: 'ERR_CONFIG' });
    expect(error!.message).not.toContain('s3cret-literal');
    await writeFile(join(dir, 'token'), `${TOKEN_A}\n`, { mode: 0o600 });
    await writeFile(file, `engine_tokens: ["file:${join(dir, 'token')}", "env:MY_TOKEN"]\n`);
    expect(loadConfig({ file, env: { MY_TOKEN: TOKEN_B } }).engine_tokens).toEqual([
      TOKEN_A,
      TOKEN_B,
    ]);
  });

  it('parses durations', () => {
    expect(parseDuration('20s')).toBe(20_000);
    expect(parseDuration('1h30m')).toBe(5_400_000);
    expect(parseDuration('30d')).toBe(2_592_000_000);
    expect(parseDuration('10')).toBeNull();
    expect(parseDuration('ten minutes')).toBeNull();
  });
});

describe('secrets in the YAML file', () => {
  it('refuses an HSM PIN written into the file, without echoing it', async () => {
    const { file } = await configDir();
    await writeFile(file, 'pkcs11:\n  pin: "1234-secret"\n');
    let error: Error | undefined;
    try {
      loadConfig({ file, env: {} });
    } catch (err) {
      error = err as Error;
    }
    expect(error).toMatchObject({ code: 'ERR_CONFIG' });
    expect(error!.message).toContain('WFID_PKCS11_PIN');
    expect(error!.message).not.toContain('1234-secret');
    expect(loadConfig({ env: { WFID_PKCS11_PIN: '1234' } }).pkcs11).toMatchObject({ pin: '1234' });
  });

  it('takes the admin token from WFID_ADMIN_TOKEN or a file, never from YAML, and only 32 characters or more', async () => {
    const { dir, file } = await configDir();
    const admin = 'x'.repeat(32);
    await writeFile(file, `admin_token: "${admin}"\n`);
    expect(() => loadConfig({ file, env: {} })).toThrow(/admin_token.*WFID_ADMIN_TOKEN/);
    expect(loadConfig({ env: { WFID_ADMIN_TOKEN: admin } }).admin_token).toBe(admin);
    await writeFile(join(dir, 'admin'), `${admin}\n`, { mode: 0o600 });
    expect(loadConfig({ env: { WFID_ADMIN_TOKEN_FILE: join(dir, 'admin') } }).admin_token).toBe(
      admin,
    );
    let error: Error | undefined;
    try {
      loadConfig({ env: { WFID_ADMIN_TOKEN: 'short-admin-secret' } });
    } catch (err) {
      error = err as Error;
    }
    expect(error).toMatchObject({ code: 'ERR_CONFIG' });
    expect(error!.message).toContain('admin_token (WFID_ADMIN_TOKEN): at least 32 characters');
    expect(error!.message).not.toContain('short-admin-secret');
    expect(loadConfig({ env: {} }).audit).toMatchObject({
      enabled: true,
      retention: 30 * 86_400_000,
    });
  });
});

describe('rotation settings that would break verifiers', () => {
  it('refuses a JWKS max-age (plus refresh) longer than the prepublish lead time, naming the keys', () => {
    let error: Error | undefined;
    try {
      loadConfig({ env: { WFID_JWKS_MAX_AGE: '1h', WFID_ROTATION_PREPUBLISH: '30m' } });
    } catch (err) {
      error = err as Error;
    }
    expect(error).toMatchObject({ code: 'ERR_CONFIG' });
    expect(error!.message).toMatch(/jwks\.max_age.*keys\.refresh.*rotation\.prepublish/);
    expect(() =>
      loadConfig({ env: { WFID_JWKS_MAX_AGE: '29m', WFID_ROTATION_PREPUBLISH: '30m' } }),
    ).not.toThrow();
  });

  it('refuses a rotation period no longer than the lead time', () => {
    expect(() =>
      loadConfig({ env: { WFID_ROTATION_EVERY: '12h', WFID_ROTATION_PREPUBLISH: '1d' } }),
    ).toThrowError(
      expect.objectContaining({
        code: 'ERR_CONFIG',
        message: expect.stringContaining('rotation.every'),
      }),
    );
    expect(loadConfig({ env: { WFID_ROTATION_EVERY: '30d' } }).rotation.every).toBe(
      30 * 86_400_000,
    );
  });
});

describe('named engine credentials', () => {
  it('reads engines from YAML with token references and fixed claims; a lone WFID_ENGINE_TOKEN is the default engine', async () => {
    const { dir, file } = await configDir();
    await writeFile(join(dir, 'dev-token'), `${TOKEN_B}\n`, { mode: 0o600 });
    await writeFile(
      file,
      [
        'engines:',
        '  - {name: n8n-prod, token: "env:PROD_TOKEN", environment: prod, instance: main}',
        `  - {name: n8n-dev, token: "file:${join(dir, 'dev-token')}"}`,
        'tokens: {subject: "engine:{engine}:workflow:{workflow_id}"}',
      ].join('\n'),
    );
    const config = loadConfig({ file, env: { PROD_TOKEN: TOKEN_A } });
    expect(config.engines).toEqual([
      { name: 'n8n-prod', token: TOKEN_A, environment: 'prod', instance: 'main' },
      { name: 'n8n-dev', token: TOKEN_B },
    ]);
    expect(config.engine_tokens).toEqual([]);
    // engines has no env form (a list of objects); WFID_ENGINES is not a config variable.
    expect([...envPaths().keys()]).not.toContain('WFID_ENGINES');
  });

  it('refuses a sub template that cannot tell several engines apart, naming them and the fix', async () => {
    const { file } = await configDir();
    const env = { A: TOKEN_A, B: TOKEN_B };
    const engines = (staging: string, prod: string) =>
      `engines:\n  - {name: n8n-staging, token: "env:A"${staging}}\n  - {name: n8n-prod, token: "env:B"${prod}}\n`;
    await writeFile(file, engines('', ''));
    // Both would mint sub "workflow:1" for their own workflow "1".
    expect(configError({ file, env })).toBe(
      'tokens.subject: "workflow:{workflow_id}" does not say which engine a token belongs to, and 2 engines (n8n-staging, n8n-prod) share this issuer: their tokens for workflows with the same id would carry the same sub, which verifiers that match sub alone cannot tell apart; add {engine} between separators, e.g. "engine:{engine}:workflow:{workflow_id}"',
    );
    // A lone WFID_ENGINE_TOKEN beside one named engine is two engines too.
    await writeFile(file, 'engines:\n  - {name: n8n-prod, token: "env:B"}\n');
    expect(configError({ file, env: { ...env, WFID_ENGINE_TOKEN: TOKEN_A } })).toMatch(
      /2 engines \(default, n8n-prod\)/,
    );
    expect(loadConfig({ file, env }).engines).toHaveLength(1);
    const subject = (template: string) => ({ ...env, WFID_TOKENS_SUBJECT: template });
    await writeFile(file, engines('', ''));
    expect(loadConfig({ file, env: subject('{engine}/{workflow_id}') }).engines).toHaveLength(2);
    // A claim every credential fixes to its own value tells them apart as well…
    await writeFile(file, engines(', environment: staging', ', environment: production'));
    expect(
      loadConfig({ file, env: subject('env:{environment}:workflow:{workflow_id}') }).engines,
    ).toHaveLength(2);
    // …but not one they share, or one a credential leaves to the engine's request.
    await writeFile(file, engines(', environment: prod', ', environment: prod'));
    expect(configError({ file, env: subject('env:{environment}:wf:{workflow_id}') })).toMatch(
      /^tokens\.subject: .* does not say which engine/,
    );
    await writeFile(file, engines('', ', environment: production'));
    expect(configError({ file, env: subject('env:{environment}:wf:{workflow_id}') })).toMatch(
      /^tokens\.subject: .* does not say which engine/,
    );
    // Fixed claims together: (prod, eu) and (prod, us) differ though both say prod.
    await writeFile(
      file,
      engines(', environment: prod, instance: eu', ', environment: prod, instance: us'),
    );
    const both = subject('{environment}:{instance}:{workflow_id}');
    expect(loadConfig({ file, env: both }).engines).toHaveLength(2);
    // A slot with no separator beside it cannot be read back: engines "a" and "ab" with
    // workflows "b1" and "1" would both render "ab1".
    await writeFile(file, engines('', ''));
    for (const template of [
      '{engine}{workflow_id}',
      'e:{workflow_id}{engine}',
      'x{engine}:{workflow_id}',
    ]) {
      expect(configError({ file, env: subject(template) }), template).toMatch(
        /^tokens\.subject: .* does not say which engine/,
      );
    }
    expect(loadConfig({ file, env: subject('{workflow_id}@{engine}') }).engines).toHaveLength(2);
  });

  it('refuses a literal token in YAML, duplicate names, a shared token and two default engines', async () => {
    const { file } = await configDir();
    await writeFile(file, `engines:\n  - {name: a, token: "${TOKEN_A}"}\n`);
    const literal = configError({ file, env: {} });
    expect(literal).toMatch(/^engines\.0\.token: secrets are not read from the YAML file/);
    expect(literal).not.toContain(TOKEN_A);

    const env = { A: TOKEN_A, B: TOKEN_B };
    await writeFile(
      file,
      'engines:\n  - {name: a, token: "env:A"}\n  - {name: a, token: "env:B"}\n',
    );
    expect(configError({ file, env })).toMatch(/engines\.1\.name: "a" is listed twice/);
    await writeFile(
      file,
      'engines:\n  - {name: a, token: "env:A"}\n  - {name: b, token: "env:A"}\n',
    );
    const shared = configError({ file, env });
    expect(shared).toMatch(/"a" and "b" share a token/);
    expect(shared).not.toContain(TOKEN_A);
    await writeFile(file, 'engines:\n  - {name: default, token: "env:A"}\n');
    expect(configError({ file, env: { ...env, WFID_ENGINE_TOKEN: TOKEN_B } })).toMatch(
      /both define the default engine/,
    );
    await writeFile(file, 'engines:\n  - {name: "a b", token: "env:A"}\n');
    expect(configError({ file, env })).toMatch(/engines\.0\.name/);
    // A fixed value that does not fit the sub template would have every registration refused.
    await writeFile(
      file,
      'engines:\n  - {name: n8n-prod, token: "env:A", environment: "eu:prod"}\n',
    );
    expect(
      configError({
        file,
        env: { ...env, WFID_TOKENS_SUBJECT: 'repo:{project_id}:env:{environment}' },
      }),
    ).toBe('engines.0: environment: contains ":", a separator of the sub template');
    expect(
      loadConfig({ file, env: { ...env, WFID_TOKENS_SUBJECT: '{project_id}/{environment}' } })
        .engines[0]?.environment,
    ).toBe('eu:prod');
  });
});

describe('secretEnvNames (what an in-process issuer removes from its host’s environment)', () => {
  it('names every variable that gave the issuer a secret, by any name, and nothing else', async () => {
    const { file } = await configDir();
    await writeFile(
      file,
      [
        'engine_tokens: ["env:N8N_ISSUER_TOKEN"]',
        'engines:',
        '  - {name: n8n-prod, token: "env:PROD_TOKEN"}',
        'tokens: {subject: "engine:{engine}:workflow:{workflow_id}"}',
        'keys: {uri: "hashivault://wfid"}',
      ].join('\n'),
    );
    const env = {
      N8N_ISSUER_TOKEN: TOKEN_A,
      WFID_STORE: 'postgres://wfid:store-password@db/wfid',
      PROD_TOKEN: TOKEN_B,
      // The same secret under a second name is still that secret.
      COPY_OF_PROD_TOKEN: TOKEN_B,
      WFID_ADMIN_TOKEN: 'admin-token-0123456789abcdefghijklmnopqrstuv',
      WFID_PKCS11_PIN: '1234',
      VAULT_TOKEN: 's.vault',
      BAO_TOKEN: 's.bao',
      WFID_VAULT_SECRET_ID: 'secret-id',
      WFID_HOST: '127.0.0.1',
      WFID_PORT: '8080',
      HOME: '/home/n8n',
    };
    const config = loadConfig({ file, env });
    expect(secretEnvNames(config, env).sort()).toEqual(
      [
        'BAO_TOKEN',
        'COPY_OF_PROD_TOKEN',
        'N8N_ISSUER_TOKEN',
        'PROD_TOKEN',
        'VAULT_TOKEN',
        'WFID_ADMIN_TOKEN',
        'WFID_PKCS11_PIN',
        'WFID_STORE',
        'WFID_VAULT_SECRET_ID',
      ].sort(),
    );
    // The Vault backend's variables are its credentials only when it holds the keys.
    const plain = { WFID_ENGINE_TOKEN: TOKEN_A, WFID_PORT: '8080', VAULT_TOKEN: 's.other' };
    expect(secretEnvNames(loadConfig({ env: plain }), plain)).toEqual(['WFID_ENGINE_TOKEN']);
  });
});

describe('engine tokens', () => {
  it('refuses a token shorter than 32 characters at start-up, saying why and not echoing it', () => {
    const message = configError({ env: { WFID_ENGINE_TOKEN: 'x' } });
    expect(message).toMatch(/engine_tokens\.0 \(WFID_ENGINE_TOKEN\): at least 32 characters/);
    expect(message).toMatch(/resist guessing/);
    expect(configError({ env: { WFID_ENGINE_TOKEN: 'short-but-not-one-char' } })).toMatch(
      /at least 32 characters/,
    );
    expect(loadConfig({ env: { WFID_ENGINE_TOKEN: 'x'.repeat(32) } }).engine_tokens).toEqual([
      'x'.repeat(32),
    ]);
  });

  it('takes WFID_ENGINE_TOKEN as one token: a comma or surrounding space is refused, never split or trimmed', () => {
    const comma = configError({ env: { WFID_ENGINE_TOKEN: `${TOKEN_A},${TOKEN_B}` } });
    expect(comma).toMatch(/WFID_ENGINE_TOKEN.*exactly one token.*comma/);
    expect(comma).not.toContain(TOKEN_A);
    expect(configError({ env: { WFID_ENGINE_TOKEN: ` ${TOKEN_A}` } })).toMatch(
      /no spaces or line breaks/,
    );
  });

  it('reads a token file as one token: only the final line break is dropped', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'wfid-config-'));
    const path = join(dir, 'token');
    await writeFile(path, `${TOKEN_A}\r\n`, { mode: 0o600 });
    expect(loadConfig({ env: { WFID_ENGINE_TOKEN_FILE: path } }).engine_tokens).toEqual([TOKEN_A]);
    await writeFile(path, `${TOKEN_A}\n${TOKEN_B}\n`, { mode: 0o600 });
    expect(configError({ env: { WFID_ENGINE_TOKEN_FILE: path } })).toMatch(
      /no spaces or line breaks \(one token\)/,
    );
    await writeFile(path, `  ${TOKEN_A}\n`, { mode: 0o600 });
    expect(configError({ env: { WFID_ENGINE_TOKEN_FILE: path } })).toMatch(/no spaces/);
  });
});

describe('audiences', () => {
  it('refuses tokens.audiences without the default audience at start-up, naming both keys', () => {
    const message = configError({
      env: { WFID_ISSUER: 'https://id.example.com', WFID_TOKENS_AUDIENCES: 'sts,vault' },
    });
    expect(message).toMatch(
      /^tokens\.audiences: does not list tokens\.default_audience \(https:\/\/id\.example\.com\)/,
    );
    expect(
      loadConfig({
        env: {
          WFID_TOKENS_AUDIENCES: 'sts,vault',
          WFID_TOKENS_DEFAULT_AUDIENCE: 'sts',
        },
      }).tokens.audiences,
    ).toEqual(['sts', 'vault']);
    expect(
      loadConfig({
        env: {
          WFID_ISSUER: 'https://id.example.com',
          WFID_TOKENS_AUDIENCES: 'https://id.example.com,sts',
        },
      }).tokens.default_audience,
    ).toBe('https://id.example.com');
  });
});

describe('issuer', () => {
  it('is derived from the host and port the server listens on when not configured', () => {
    expect(loadConfig({ env: { WFID_PORT: '9123' } })).toMatchObject({
      issuer: 'http://127.0.0.1:9123',
      tokens: { default_audience: 'http://127.0.0.1:9123' },
    });
    expect(loadConfig({ env: { WFID_HOST: 'wfid.internal', WFID_PORT: '80' } }).issuer).toBe(
      'http://wfid.internal:80',
    );
    expect(loadConfig({ env: { WFID_HOST: '::1', WFID_PORT: '9000' } }).issuer).toBe(
      'http://[::1]:9000',
    );
    // A wildcard is no address a client can use: loopback stands in.
    expect(loadConfig({ env: { WFID_HOST: '0.0.0.0' } }).issuer).toBe('http://127.0.0.1:8080');
    expect(loadConfig({ env: { WFID_HOST: '::' } }).issuer).toBe('http://[::1]:8080');
    // A configured issuer wins.
    expect(
      loadConfig({ env: { WFID_PORT: '9123', WFID_ISSUER: 'https://id.example.com' } }).issuer,
    ).toBe('https://id.example.com');
    expect(configError({ env: { WFID_PORT: '0' } })).toMatch(
      /issuer \(config\): required when port is 0/,
    );
  });
});

describe('keys.create', () => {
  it('is always by default, for every backend, and an explicit value wins over the old names', () => {
    expect(loadConfig({ env: {} }).keys.create).toBe('always');
    expect(loadConfig({ env: { WFID_KEYS_CREATE: 'first' } }).keys.create).toBe('first');
    const refused = (() => {
      try {
        return loadConfig({ env: { WFID_KEYS_CREATE: 'sometimes' } });
      } catch (err) {
        return err as Error;
      }
    })();
    expect(refused).toMatchObject({ code: 'ERR_CONFIG' });
    expect((refused as Error).message).toContain('keys.create (WFID_KEYS_CREATE)');
  });

  it('reads pkcs11.create_keys and aws_kms.create_key for their own backend, with one deprecation line each', () => {
    const lines: string[] = [];
    const write = process.stderr.write;
    process.stderr.write = ((chunk: string) => {
      lines.push(String(chunk));
      return true;
    }) as typeof process.stderr.write;
    try {
      const pkcs11 = { WFID_KEYS: 'pkcs11:token=t;object=o', WFID_PKCS11_CREATE_KEYS: 'false' };
      expect(loadConfig({ env: pkcs11 }).keys.create).toBe('never');
      expect(loadConfig({ env: { ...pkcs11, WFID_KEYS_CREATE: 'first' } }).keys.create).toBe(
        'first',
      );
      const aws = { WFID_KEYS: 'awskms:///alias/wfid', WFID_AWS_KMS_CREATE_KEY: 'true' };
      expect(loadConfig({ env: aws }).keys.create).toBe('always');
      // Another backend's old name changes nothing.
      expect(
        loadConfig({ env: { WFID_KEYS: 'file:///k', WFID_PKCS11_CREATE_KEYS: 'false' } }).keys
          .create,
      ).toBe('always');
    } finally {
      process.stderr.write = write;
    }
    const pkcs11Line =
      'wfid: WFID_PKCS11_CREATE_KEYS is deprecated; use keys.create (never | first | always)\n';
    expect(lines).toEqual([
      pkcs11Line,
      pkcs11Line,
      'wfid: WFID_AWS_KMS_CREATE_KEY is deprecated; use keys.create (never | first | always)\n',
      pkcs11Line,
    ]);
  });
});
