import { randomBytes } from 'node:crypto';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createBackend, type Pkcs11Backend } from '../../backends/pkcs11/index.js';
import {
  acquireModule,
  type Module,
  type Pkcs11Sdk,
  releaseModule,
} from '../../backends/pkcs11/library.js';
import { findObjects } from '../../backends/pkcs11/objects.js';
import { loadConfig } from '../../src/config/load.js';
import { isWfidError } from '../../src/errors.js';
import { MemoryStore } from '../../src/executions/stores/memory.js';
import { keyLifecycle } from '../../src/issuer.js';
import type { JwsAlg } from '../../src/jws/algorithms.js';
import { verifySignature } from '../../src/jws/compact.js';
import type { BackendKey } from '../../src/keys/backend.js';
import { KeyRing } from '../../src/keys/ring.js';
import { type SoftHsm, startSoftHsm } from '../peers/softhsm.js';
import { describeBackendConformance } from './conformance.js';

const logger = pino({ level: 'silent' });
const TOKEN = 'wfid';
/** Only the wrong-PIN test touches it: a token already logged in would not check the PIN. */
// Not a prefix of TOKEN or the reverse: pkcs11-tool --token-label matches by prefix.
const PIN_TOKEN = 'pin-check';

let hsm: SoftHsm;
let shared: { sdk: Pkcs11Sdk; module: Module };

// Root hooks run before the conformance suite's own beforeAll, so the tokens exist (and
// SOFTHSM2_CONF is set) before anything initialises the module in this process.
beforeAll(async () => {
  hsm = await startSoftHsm([TOKEN, PIN_TOKEN]);
  shared = await acquireModule(hsm.module);
});
afterAll(async () => {
  if (shared) await releaseModule(hsm.module);
  await hsm?.stop();
});

interface OpenOptions {
  alg?: JwsAlg;
  object?: string;
  token?: string;
  query?: Record<string, string>;
  env?: Record<string, string>;
  overrides?: Record<string, unknown>;
  /** A whole key URI instead of one built from token, object and query. */
  uri?: string;
  logger?: pino.Logger;
}

/**
 * The backend as the issuer opens it, from a key URI and config loaded from env, followed by
 * the key lifecycle's first step as `wfid serve` takes it: that (not opening) makes the first
 * key pair when `keys.create` allows, or refuses an empty token when it does not.
 */
async function open(options: OpenOptions = {}): Promise<Pkcs11Backend> {
  const token = options.token ?? TOKEN;
  const uri =
    options.uri ??
    hsm.uri(token, options.object ?? `ring-${randomBytes(4).toString('hex')}`, options.query);
  const env = { WFID_PKCS11_PIN: hsm.token(token).pin, WFID_KEYS: uri, ...options.env };
  const config = loadConfig({ env, overrides: options.overrides });
  const backend = (await createBackend({
    uri,
    alg: options.alg ?? 'ES256',
    section: config.pkcs11,
    create: config.keys.create,
    logger: options.logger ?? logger,
  })) as Pkcs11Backend;
  const ring = new KeyRing(backend, { logger });
  await keyLifecycle(config, new MemoryStore(), ring, logger)
    .start()
    .catch(async (err: unknown) => {
      await backend.close();
      throw err;
    });
  return backend;
}

async function openError(options: OpenOptions): Promise<unknown> {
  return open(options).then(
    async (backend) => {
      await backend.close();
      return new Error('opened');
    },
    (err) => err,
  );
}

describeBackendConformance({
  name: 'pkcs11 (SoftHSM2)',
  algs: ['ES256', 'ES384', 'RS256', 'PS256', 'EdDSA'],
  open: async (alg) => ({ backend: await open({ alg, object: `conformance-${alg}` }) }),
  missingKey: (key) => ({ ...key, ref: randomBytes(16).toString('hex') }),
});

/** A session of the test's own on the shared module (the token's login is per process). */
function withSession<T>(fn: (session: Buffer) => T): T {
  const { sdk } = shared;
  const session = shared.module.C_OpenSession(
    tokenSlot(),
    sdk.CKF_SERIAL_SESSION | sdk.CKF_RW_SESSION,
  );
  try {
    return fn(session);
  } finally {
    shared.module.C_CloseSession(session);
  }
}

function tokenSlot(): Buffer {
  const { module } = shared;
  return module
    .C_GetSlotList(true)
    .find((slot) => module.C_GetTokenInfo(slot).label.trimEnd() === TOKEN)!;
}

function privateKeyHandle(session: Buffer, key: BackendKey): Buffer {
  const { sdk, module } = shared;
  const [handle] = findObjects(module, session, [
    { type: sdk.CKA_CLASS, value: sdk.CKO_PRIVATE_KEY },
    { type: sdk.CKA_ID, value: Buffer.from(key.ref, 'hex') },
  ]);
  expect(handle).toBeDefined();
  return handle!;
}

function readBoolean(session: Buffer, handle: Buffer, type: number): boolean {
  return shared.module.C_GetAttributeValue(session, handle, [{ type }])[0]!.value[0] === 1;
}

describe('pkcs11 backend on SoftHSM2', () => {
  it.each(['ES256', 'RS256'] as const)(
    'generates %s private keys that are sensitive and never leave the token',
    async (alg) => {
      const backend = await open({ alg });
      const [key] = await backend.listKeys();
      const { sdk, module } = shared;
      withSession((session) => {
        const handle = privateKeyHandle(session, key!);
        expect(readBoolean(session, handle, sdk.CKA_TOKEN)).toBe(true);
        expect(readBoolean(session, handle, sdk.CKA_SENSITIVE)).toBe(true);
        expect(readBoolean(session, handle, sdk.CKA_EXTRACTABLE)).toBe(false);
        expect(readBoolean(session, handle, sdk.CKA_ALWAYS_SENSITIVE)).toBe(true);
        expect(readBoolean(session, handle, sdk.CKA_NEVER_EXTRACTABLE)).toBe(true);
        expect(readBoolean(session, handle, sdk.CKA_SIGN)).toBe(true);
        expect(readBoolean(session, handle, sdk.CKA_DECRYPT)).toBe(false);
        const secret = alg === 'ES256' ? sdk.CKA_VALUE : sdk.CKA_PRIVATE_EXPONENT;
        expect(() => module.C_GetAttributeValue(session, handle, [{ type: secret }])).toThrow(
          'CKR_ATTRIBUTE_SENSITIVE',
        );
      });
      await backend.close();
    },
  );

  it('encodes the creation time in CKA_ID, so every instance agrees on which version is newest', async () => {
    const before = Date.now();
    const backend = await open();
    const created = await backend.createKey!();
    expect(created.createdAt.getTime()).toBeGreaterThanOrEqual(before);
    expect(created.createdAt.getTime()).toBeLessThanOrEqual(Date.now());
    const listed = (await backend.listKeys()).find((key) => key.ref === created.ref);
    expect(listed?.createdAt.getTime()).toBe(created.createdAt.getTime());
    await backend.close();
  });

  it('disables a version by CKA_SIGN false and keeps it on the token', async () => {
    const backend = await open();
    const [key] = await backend.listKeys();
    await backend.disableKey(key!);
    withSession((session) => {
      const handle = privateKeyHandle(session, key!);
      expect(readBoolean(session, handle, shared.sdk.CKA_SIGN)).toBe(false);
    });
    expect((await backend.listKeys()).map((listed) => [listed.ref, listed.enabled])).toEqual([
      [key!.ref, false],
    ]);
    await backend.close();
  });

  it('sees versions disabled outside the issuer: CKA_SIGN false, or relabelled <object>.disabled', async () => {
    const object = `outside-${randomBytes(3).toString('hex')}`;
    const backend = await open({ object });
    const first = (await backend.listKeys())[0]!;
    const second = await backend.createKey!();
    // Both sign once, so their handles are cached as the security team changes them.
    for (const key of [first, second]) await backend.sign(key, randomBytes(8));
    const { sdk, module } = shared;
    withSession((session) => {
      module.C_SetAttributeValue(session, privateKeyHandle(session, first), [
        { type: sdk.CKA_SIGN, value: false },
      ]);
      module.C_SetAttributeValue(session, privateKeyHandle(session, second), [
        { type: sdk.CKA_LABEL, value: `${object}.disabled` },
      ]);
    });
    const listed = new Map((await backend.listKeys()).map((key) => [key.ref, key.enabled]));
    expect(listed).toEqual(
      new Map([
        [first.ref, false],
        [second.ref, false],
      ]),
    );
    for (const key of [first, second]) {
      const error = await backend.sign(key, randomBytes(8)).catch((err) => err);
      expect(isWfidError(error, 'ERR_KEY_DISABLED')).toBe(true);
    }
    await backend.close();
  });

  it('reconnects and logs in again after its sessions are closed under it', async () => {
    const lines: string[] = [];
    const recorder = pino({ level: 'warn' }, { write: (line: string) => lines.push(line) });
    const backend = await open({
      alg: 'ES384',
      overrides: { 'pkcs11.sessions': 2 },
      logger: recorder,
    });
    const [key] = await backend.listKeys();
    const input = randomBytes(32);
    expect(verifySignature('ES384', key!.publicKey, input, await backend.sign(key!, input))).toBe(
      true,
    );

    // Closing every session of the application also logs the token out (PKCS#11 §5.6).
    shared.module.C_CloseAllSessions(tokenSlot());
    const signatures = await Promise.all(
      Array.from({ length: 6 }, () => backend.sign(key!, input)),
    );
    for (const signature of signatures)
      expect(verifySignature('ES384', key!.publicKey, input, signature)).toBe(true);
    expect((await backend.listKeys()).map((listed) => listed.ref)).toEqual([key!.ref]);
    await backend.close();
  });

  it('uses a key pair made outside the issuer (pkcs11-tool), with keys.create never', async () => {
    const object = `team-${randomBytes(3).toString('hex')}`;
    await hsm.tool(TOKEN, [
      '--keypairgen',
      '--key-type',
      'EC:prime256v1',
      '--label',
      object,
      '--id',
      'a1b2',
    ]);
    const backend = await open({ object, env: { WFID_KEYS_CREATE: 'never' } });
    expect(await backend.listKeys()).toHaveLength(1);
    const [key] = await backend.listKeys();
    expect(key).toMatchObject({ ref: 'a1b2', alg: 'ES256', enabled: true });
    // No creation time in a foreign CKA_ID: the epoch, so issuer-made versions count as newer.
    expect(key!.createdAt.getTime()).toBe(0);
    const input = randomBytes(20);
    expect(verifySignature('ES256', key!.publicKey, input, await backend.sign(key!, input))).toBe(
      true,
    );
    await backend.close();
  });

  it('reads the PIN from a pin-source file', async () => {
    const pinSource = `file:${await hsm.pinFile(TOKEN)}`;
    const backend = await open({
      query: { 'pin-source': pinSource },
      env: { WFID_PKCS11_PIN: '' },
    });
    expect((await backend.listKeys()).length).toBe(1);
    await backend.close();
  });

  it('accepts pin-value in the URI only when pkcs11.allow_pin_in_uri is set', async () => {
    const query = { 'pin-value': hsm.token(TOKEN).pin };
    const refused = await openError({ query, env: { WFID_PKCS11_PIN: '' } });
    expect(isWfidError(refused, 'ERR_CONFIG')).toBe(true);
    expect((refused as Error).message).not.toContain(hsm.token(TOKEN).pin);
    const backend = await open({
      query,
      env: { WFID_PKCS11_PIN: '', WFID_PKCS11_ALLOW_PIN_IN_URI: 'true' },
    });
    await backend.close();
  });
});

describe('pkcs11 backend start-up errors', () => {
  it('a wrong PIN is ERR_CONFIG naming the token, without the PIN', async () => {
    const wrong = '31415926';
    const error = await openError({ token: PIN_TOKEN, env: { WFID_PKCS11_PIN: wrong } });
    expect(isWfidError(error, 'ERR_CONFIG')).toBe(true);
    expect((error as Error).message).toContain(PIN_TOKEN);
    expect((error as Error).message).not.toContain(wrong);
    expect(JSON.stringify((error as Error).cause ?? null)).not.toContain(wrong);
  });

  it('a missing module file is ERR_CONFIG', async () => {
    const error = await openError({ query: { 'module-path': '/nonexistent/libpkcs11.so' } });
    expect(isWfidError(error, 'ERR_CONFIG')).toBe(true);
  });

  it('a file that is not a PKCS#11 module is ERR_CONFIG', async () => {
    const error = await openError({ query: { 'module-path': hsm.conf } });
    expect(isWfidError(error, 'ERR_CONFIG')).toBe(true);
  });

  it('a missing token is ERR_CONFIG', async () => {
    const error = await openError({ uri: hsm.uri('no-such-token', 'x') });
    expect(isWfidError(error, 'ERR_CONFIG')).toBe(true);
  });

  it('a missing object is ERR_CONFIG when the issuer may not create keys (the old pkcs11.create_keys: false too)', async () => {
    const error = await openError({
      object: 'nobody-made-this',
      env: { WFID_PKCS11_CREATE_KEYS: 'false' },
    });
    expect(isWfidError(error, 'ERR_CONFIG')).toBe(true);
    expect((error as Error).message).toContain('keys.create is never');
  });

  it('no PIN at all is ERR_CONFIG', async () => {
    const error = await openError({ env: { WFID_PKCS11_PIN: '' } });
    expect(isWfidError(error, 'ERR_CONFIG')).toBe(true);
  });

  it('a URI attribute the backend cannot honour (id=) is ERR_CONFIG', async () => {
    const error = await openError({
      uri: `pkcs11:token=${TOKEN};object=x;id=%01?module-path=${hsm.module}`,
    });
    expect(isWfidError(error, 'ERR_CONFIG')).toBe(true);
  });
});
