import { randomBytes } from 'node:crypto';
import { createLocalJWKSet, jwtVerify } from 'jose';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openTransit, transitKeyName } from '../../backends/vault-transit/index.js';
import { loadConfig } from '../../src/config/load.js';
import { isWfidError } from '../../src/errors.js';
import type { JwsAlg } from '../../src/jws/algorithms.js';
import { signCompact, verifySignature } from '../../src/jws/compact.js';
import { toPublicJwk } from '../../src/jws/jwk.js';
import { KeyRing } from '../../src/keys/ring.js';
import { type OpenBao, startOpenBao } from '../peers/openbao.js';
import { describeBackendConformance } from './conformance.js';

const logger = pino({ level: 'silent' });
let bao: OpenBao;

beforeAll(async () => {
  bao = await startOpenBao();
  await bao.api('POST', 'sys/mounts/transit', { type: 'transit' });
});

afterAll(async () => {
  await bao?.close();
});

/** A backend on the dev server's root token, for a fresh Transit key unless `key` is given. */
function open(
  alg: JwsAlg,
  options: { key?: string; vault?: Record<string, unknown>; env?: NodeJS.ProcessEnv } = {},
) {
  const key = options.key ?? `wfid-${alg.toLowerCase()}-${randomBytes(4).toString('hex')}`;
  const config = loadConfig({
    env: {},
    overrides: Object.fromEntries(
      Object.entries(options.vault ?? {}).map(([k, v]) => [`vault.${k}`, v]),
    ),
  });
  return openTransit({
    uri: `hashivault://${key}`,
    alg,
    vault: config.vault,
    env: options.env ?? { BAO_ADDR: bao.address, BAO_TOKEN: bao.rootToken },
    logger,
  });
}

describeBackendConformance({
  name: 'vault-transit',
  algs: ['ES256', 'ES384', 'RS256', 'PS256', 'EdDSA'],
  // PS256 runs on a 3072-bit key to cover vault.key_type; RS256 on the default rsa-2048.
  open: async (alg) => ({
    backend: open(alg, { vault: alg === 'PS256' ? { key_type: 'rsa-3072' } : {} }),
  }),
  missingKey: (key) => ({ ...key, ref: key.ref.replace(/#\d+$/, '#99') }),
});

describe('vault-transit backend', () => {
  it('reports the OpenBao version it runs against', () => {
    expect(bao.version).toMatch(/^OpenBao v\d+\.\d+\.\d+/);
    console.info(`vault-transit tests ran against ${bao.version}`);
  });

  it('a version rotated in OpenBao by the security team appears in the JWKS; older tokens keep verifying', async () => {
    const backend = open('ES256');
    await backend.createKey();
    const ring = new KeyRing(backend, { logger });
    await ring.refresh();
    const first = ring.signingKey();
    const header = first.encodedHeader;
    const before = await signCompact(header, { sub: 'before' }, (input) => ring.sign(input));

    await bao.api('POST', `transit/keys/${backend.keyName}/rotate`);
    await ring.refresh();
    const kids = JSON.parse(ring.jwks().body).keys.map((jwk: { kid: string }) => jwk.kid);
    expect(kids).toHaveLength(2);
    expect(kids).toContain(first.kid);
    const second = ring.signingKey();
    expect(second.kid).not.toBe(first.kid);
    expect(second.backendKey.ref).toBe(`${backend.keyName}#2`);

    const after = await signCompact(second.encodedHeader, { sub: 'after' }, (input) =>
      ring.sign(input),
    );
    const jwks = createLocalJWKSet(JSON.parse(ring.jwks().body));
    expect((await jwtVerify(before, jwks)).payload.sub).toBe('before');
    expect((await jwtVerify(after, jwks)).payload.sub).toBe('after');
  });

  it('pins the version: signing with version 1 after a rotation still uses version 1', async () => {
    const backend = open('ES384');
    const v1 = await backend.createKey();
    const v2 = await backend.createKey();
    const input = randomBytes(50);
    expect(verifySignature('ES384', v1.publicKey, input, await backend.sign(v1, input))).toBe(true);
    expect(verifySignature('ES384', v2.publicKey, input, await backend.sign(v1, input))).toBe(
      false,
    );
  });

  it('disables by raising min_encryption_version, which the security team can lower again', async () => {
    const backend = open('EdDSA');
    for (let i = 0; i < 3; i++) await backend.createKey();
    const [v3, v2, v1] = await backend.listKeys();
    await backend.disableKey(v2!);
    const listed = await backend.listKeys();
    expect(listed.map((key) => key.enabled)).toEqual([true, false, false]);
    expect(
      isWfidError(await backend.sign(v1!, randomBytes(8)).catch((err) => err), 'ERR_KEY_DISABLED'),
    ).toBe(true);
    // The latest version cannot be disabled on its own: Transit would have nothing to sign with.
    expect(isWfidError(await backend.disableKey(v3!).catch((err) => err), 'ERR_BACKEND')).toBe(
      true,
    );

    await bao.api('POST', `transit/keys/${backend.keyName}/config`, { min_encryption_version: 1 });
    expect((await backend.listKeys()).every((key) => key.enabled)).toBe(true);
    const input = randomBytes(8);
    expect(verifySignature('EdDSA', v1!.publicKey, input, await backend.sign(v1!, input))).toBe(
      true,
    );
  });

  it('a version trimmed (archived) by the security team leaves the listing and cannot sign', async () => {
    const backend = open('ES256');
    for (let i = 0; i < 3; i++) await backend.createKey();
    const v1 = (await backend.listKeys()).at(-1)!;
    await bao.api('POST', `transit/keys/${backend.keyName}/config`, {
      min_decryption_version: 2,
      min_encryption_version: 2,
    });
    await bao.api('POST', `transit/keys/${backend.keyName}/trim`, { min_available_version: 2 });
    expect((await backend.listKeys()).map((key) => key.ref)).toEqual([
      `${backend.keyName}#3`,
      `${backend.keyName}#2`,
    ]);
    const error = await backend.sign(v1, randomBytes(8)).catch((err) => err);
    expect(isWfidError(error, 'ERR_KEY_DISABLED') || isWfidError(error, 'ERR_KEY_NOT_FOUND')).toBe(
      true,
    );
  });

  it('signs RS256 and PS256 with a 4096-bit key', async () => {
    for (const alg of ['RS256', 'PS256'] as const) {
      const backend = open(alg, { vault: { key_type: 'rsa-4096' } });
      const key = await backend.createKey();
      expect(key.publicKey.asymmetricKeyDetails?.modulusLength).toBe(4096);
      const input = randomBytes(30);
      expect(verifySignature(alg, key.publicKey, input, await backend.sign(key, input))).toBe(true);
    }
  });

  it('refuses an existing Transit key of a type that cannot sign the configured alg', async () => {
    const name = `p256-${randomBytes(4).toString('hex')}`;
    await bao.api('POST', `transit/keys/${name}`, { type: 'ecdsa-p256' });
    const error = await open('ES384', { key: name })
      .listKeys()
      .catch((err) => err);
    expect(isWfidError(error, 'ERR_KEY_UNSUITABLE')).toBe(true);
    const aes = `aes-${randomBytes(4).toString('hex')}`;
    await bao.api('POST', `transit/keys/${aes}`, { type: 'aes256-gcm96' });
    expect(
      isWfidError(
        await open('ES256', { key: aes })
          .listKeys()
          .catch((err) => err),
        'ERR_KEY_UNSUITABLE',
      ),
    ).toBe(true);
  });

  it('uses the namespace from config (X-Vault-Namespace)', async () => {
    const ns = `team${randomBytes(3).toString('hex')}`;
    await bao.api('POST', `sys/namespaces/${ns}`);
    await bao.api('POST', `${ns}/sys/mounts/transit`, { type: 'transit' });
    const backend = open('ES256', { vault: { namespace: ns } });
    const key = await backend.createKey();
    // The key exists inside the namespace, not at the root.
    await bao.api('GET', `${ns}/transit/keys/${backend.keyName}`);
    await expect(bao.api('GET', `transit/keys/${backend.keyName}`)).rejects.toMatchObject({
      status: 404,
    });
    const input = randomBytes(16);
    expect(verifySignature('ES256', key.publicKey, input, await backend.sign(key, input))).toBe(
      true,
    );
  });

  it('reads the address and token from VAULT_ADDR/VAULT_TOKEN as well as BAO_ADDR/BAO_TOKEN', async () => {
    const backend = open('ES256', { env: { VAULT_ADDR: bao.address, VAULT_TOKEN: bao.rootToken } });
    const key = await backend.createKey();
    expect(toPublicJwk(key.publicKey, 'ES256').kty).toBe('EC');
  });

  it('asks whether the Transit engine is mounted when nothing answers at the mount', async () => {
    const backend = open('ES256', { vault: { mount: 'not-mounted' } });
    for (const attempt of [() => backend.listKeys(), () => backend.createKey()]) {
      const error = await attempt().catch((err) => err);
      expect(isWfidError(error, 'ERR_BACKEND')).toBe(true);
      expect(error.message).toContain('is the Transit engine mounted at not-mounted?');
      expect(error.message).not.toContain(bao.rootToken);
    }
  });

  it('explains a missing token and a malformed key URI as ERR_CONFIG', async () => {
    const error = await open('ES256', { env: { BAO_ADDR: bao.address } })
      .listKeys()
      .catch((err) => err);
    expect(isWfidError(error, 'ERR_CONFIG')).toBe(true);
    expect(() => transitKeyName('hashivault://')).toThrow(
      expect.objectContaining({ code: 'ERR_CONFIG' }),
    );
    expect(() => transitKeyName('hashivault://a/b')).toThrow(
      expect.objectContaining({ code: 'ERR_CONFIG' }),
    );
    expect(transitKeyName('hashivault://wfid')).toBe('wfid');
  });
});
