import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openTransit } from '../../backends/vault-transit/index.js';
import { loadConfig } from '../../src/config/load.js';
import { isWfidError, type WfidError } from '../../src/errors.js';
import type { JwsAlg } from '../../src/jws/algorithms.js';
import { verifySignature } from '../../src/jws/compact.js';
import { KeyRing } from '../../src/keys/ring.js';
import { type OpenBao, startOpenBao } from '../peers/openbao.js';

const logger = pino({ level: 'silent' });
const KEY = 'wfid';
/** The signer policy of docs/backends/vault-transit.md. */
const SIGNER_POLICY = `
path "transit/sign/${KEY}" { capabilities = ["update"] }
path "transit/keys/${KEY}" { capabilities = ["read"] }
`;
const READER_POLICY = `path "transit/keys/${KEY}" { capabilities = ["read"] }`;

let bao: OpenBao;
let dir: string;

beforeAll(async () => {
  // Persistent (raft) storage, so the server can be stopped and started with its keys intact.
  bao = await startOpenBao({ persistent: true });
  dir = await mkdtemp(join(tmpdir(), 'wfid-vault-faults-'));
  await bao.api('POST', 'sys/mounts/transit', { type: 'transit' });
  await bao.api('POST', `transit/keys/${KEY}`, { type: 'ecdsa-p256' });
  await bao.api('PUT', 'sys/policies/acl/wfid-signer', { policy: SIGNER_POLICY });
  await bao.api('PUT', 'sys/policies/acl/wfid-reader', { policy: READER_POLICY });
}, 120_000);

afterAll(async () => {
  await bao?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

function open(
  env: NodeJS.ProcessEnv,
  vault: Record<string, unknown> = {},
  log = logger,
  alg: JwsAlg = 'ES256',
) {
  const overrides = Object.fromEntries(
    Object.entries(vault).map(([key, value]) => [`vault.${key}`, value]),
  );
  const config = loadConfig({ env: {}, overrides });
  return openTransit({
    uri: `hashivault://${KEY}`,
    alg,
    vault: config.vault,
    env: { BAO_ADDR: bao.address, ...env },
    logger: log,
  });
}

async function tokenWith(policy: string, extra: Record<string, unknown> = {}): Promise<string> {
  const answer = await bao.api<{ auth: { client_token: string } }>('POST', 'auth/token/create', {
    policies: [policy],
    ttl: '1h',
    ...extra,
  });
  return answer.auth.client_token;
}

async function signOnce(backend: ReturnType<typeof open>): Promise<void> {
  const [key] = (await backend.listKeys()).filter((entry) => entry.enabled);
  const input = randomBytes(32);
  expect(verifySignature('ES256', key!.publicKey, input, await backend.sign(key!, input))).toBe(
    true,
  );
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('vault-transit faults', () => {
  it('sealed: ERR_BACKEND_UNAVAILABLE with retryAfter, the ring is not ready; unsealed, it recovers', async () => {
    const backend = open({ BAO_TOKEN: bao.rootToken });
    const ring = new KeyRing(backend, { logger });
    await ring.refresh();
    const [key] = await backend.listKeys();

    await bao.seal();
    const signError = (await backend.sign(key!, randomBytes(32)).catch((err) => err)) as WfidError;
    expect(isWfidError(signError, 'ERR_BACKEND_UNAVAILABLE')).toBe(true);
    expect(signError.retryAfter).toBeGreaterThan(0);
    expect(signError.status).toBe(503);
    expect(isWfidError(await ring.refresh().catch((err) => err), 'ERR_BACKEND_UNAVAILABLE')).toBe(
      true,
    );
    expect(ring.health().ready).toBe(false);

    await bao.unseal();
    await ring.refresh();
    expect(ring.health().ready).toBe(true);
    const input = randomBytes(32);
    expect(verifySignature('ES256', key!.publicKey, input, await ring.sign(input))).toBe(true);
  }, 60_000);

  it('stopped: connection refused is ERR_BACKEND_UNAVAILABLE; started again, the same version signs', async () => {
    const backend = open({ BAO_TOKEN: bao.rootToken });
    const [key] = await backend.listKeys();
    await bao.stop();
    const error = (await backend.sign(key!, randomBytes(32)).catch((err) => err)) as WfidError;
    expect(isWfidError(error, 'ERR_BACKEND_UNAVAILABLE')).toBe(true);
    expect(error.retryAfter).toBeGreaterThan(0);
    expect(
      isWfidError(await backend.listKeys().catch((err) => err), 'ERR_BACKEND_UNAVAILABLE'),
    ).toBe(true);

    await bao.start();
    const input = randomBytes(32);
    expect(verifySignature('ES256', key!.publicKey, input, await backend.sign(key!, input))).toBe(
      true,
    );
  }, 60_000);

  it('forbidden: a policy without sign lists keys but signing is ERR_BACKEND naming the missing rule', async () => {
    const backend = open({ BAO_TOKEN: await tokenWith('wfid-reader') });
    const [key] = await backend.listKeys();
    const error = (await backend.sign(key!, randomBytes(32)).catch((err) => err)) as WfidError;
    expect(isWfidError(error, 'ERR_BACKEND')).toBe(true);
    // The operator learns which rule to add, not just "permission denied".
    expect(error.message).toContain(`path "transit/sign/${KEY}"`);
  });

  it('the documented signer policy signs but cannot rotate the key', async () => {
    const backend = open({ BAO_TOKEN: await tokenWith('wfid-signer') });
    await signOnce(backend);
    expect(isWfidError(await backend.createKey().catch((err) => err), 'ERR_BACKEND')).toBe(true);
  });
});

describe('vault-transit auth', () => {
  it('renews a short-lived token (renew-self) so it keeps signing past its first TTL', async () => {
    const token = await tokenWith('wfid-signer', {
      ttl: '4s',
      explicit_max_ttl: '1m',
      renewable: true,
    });
    const backend = open({ BAO_TOKEN: token });
    const started = Date.now();
    while (Date.now() - started < 7000) {
      await signOnce(backend);
      await sleep(700);
    }
    const lookup = await bao.api<{ data: { ttl: number } }>('POST', 'auth/token/lookup', { token });
    expect(lookup.data.ttl).toBeGreaterThan(0);
  }, 30_000);

  it('AppRole: logs in with role_id and a secret_id file, and logs in again when max_ttl stops renewal', async () => {
    await bao.api('POST', 'sys/auth/approle', { type: 'approle' });
    await bao.api('POST', 'auth/approle/role/wfid', {
      token_policies: ['wfid-signer'],
      token_ttl: '3s',
      token_max_ttl: '5s',
    });
    const roleId = (
      await bao.api<{ data: { role_id: string } }>('GET', 'auth/approle/role/wfid/role-id')
    ).data.role_id;
    const secretId = (
      await bao.api<{ data: { secret_id: string } }>('POST', 'auth/approle/role/wfid/secret-id')
    ).data.secret_id;
    const secretFile = join(dir, 'secret-id');
    await writeFile(secretFile, `${secretId}\n`, { mode: 0o600 });

    const lines: string[] = [];
    const log = pino({ level: 'info' }, { write: (line: string) => lines.push(line) });
    const backend = open(
      {},
      { auth: { method: 'approle', role_id: roleId, secret_id_file: secretFile } },
      log,
    );
    const started = Date.now();
    while (Date.now() - started < 9000) {
      await signOnce(backend);
      await sleep(700);
    }
    const logins = lines.filter((line) => line.includes('logged in to Vault'));
    expect(logins.length).toBeGreaterThanOrEqual(2);
    // Neither the secret_id nor any token reaches the log.
    expect(lines.join('\n')).not.toContain(secretId);
    expect(lines.join('\n')).not.toMatch(/s\.[A-Za-z0-9]{20,}/);
    await backend.close();
  }, 30_000);

  it('AppRole with a wrong secret_id is ERR_BACKEND; a role without role_id is ERR_CONFIG', async () => {
    const secretFile = join(dir, 'wrong-secret-id');
    await writeFile(secretFile, 'not-a-secret-id', { mode: 0o600 });
    const wrong = open(
      {},
      { auth: { method: 'approle', role_id: 'nope', secret_id_file: secretFile } },
    );
    expect(isWfidError(await wrong.listKeys().catch((err) => err), 'ERR_BACKEND')).toBe(true);
    const missing = open({}, { auth: { method: 'approle' } });
    expect(isWfidError(await missing.listKeys().catch((err) => err), 'ERR_CONFIG')).toBe(true);
  });
});
