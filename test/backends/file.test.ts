import { chmod, mkdtemp, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { createBackend, FileBackend, generatePrivateKey } from '../../backends/file/index.js';
import { loadConfig } from '../../src/config/load.js';
import { isWfidError } from '../../src/errors.js';
import { MemoryStore } from '../../src/executions/stores/memory.js';
import { keyLifecycle } from '../../src/issuer.js';
import { KeyRing } from '../../src/keys/ring.js';
import { describeBackendConformance } from './conformance.js';

const logger = pino({ level: 'silent' });

describeBackendConformance({
  name: 'file',
  algs: ['ES256', 'ES384', 'RS256', 'PS256', 'EdDSA'],
  open: async (alg) => {
    const dir = await mkdtemp(join(tmpdir(), 'wfid-file-'));
    const backend = new FileBackend(join(dir, 'keys'), alg);
    await backend.createKey();
    return { backend, cleanup: () => rm(dir, { recursive: true, force: true }) };
  },
  missingKey: (key) => ({ ...key, ref: `missing-${key.ref}` }),
});

describe('file backend', () => {
  it('opening creates nothing; the lifecycle makes the first key, as PKCS#8 PEM with mode 0600 in a 0700 directory', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'wfid-file-'));
    const keys = join(dir, 'keys');
    const config = loadConfig({ env: {}, overrides: { data_dir: dir } });
    const start = async () => {
      const backend = await createBackend({
        uri: `file://${keys}`,
        alg: 'ES256',
        section: undefined,
        create: config.keys.create,
        logger,
      });
      expect(await backend.listKeys()).toHaveLength(starts === 0 ? 0 : 1);
      const ring = new KeyRing(backend, { logger });
      await keyLifecycle(config, store, ring, logger).start();
      starts++;
      return ring;
    };
    const store = new MemoryStore();
    let starts = 0;
    const first = await start();
    const names = await readdir(keys);
    expect(names).toHaveLength(1);
    expect((await stat(join(keys, names[0]!))).mode & 0o777).toBe(0o600);
    expect((await stat(keys)).mode & 0o777).toBe(0o700);
    expect(first.signingKey().backendKey.ref).toBe(names[0]);
    // Started again, it reuses the key instead of making another.
    const again = await start();
    expect(await readdir(keys)).toEqual(names);
    expect(again.signingKey().kid).toBe(first.signingKey().kid);
    await rm(dir, { recursive: true, force: true });
  });

  it('refuses a key file that group or others can read, naming the fix', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'wfid-file-'));
    const backend = new FileBackend(dir, 'ES256');
    const key = await backend.createKey();
    await chmod(join(dir, key.ref), 0o644);
    const error = await backend.listKeys().catch((err) => err);
    expect(isWfidError(error, 'ERR_KEY_FILE_PERMISSIONS')).toBe(true);
    expect(error.message).toContain('chmod 600');
    await rm(dir, { recursive: true, force: true });
  });

  it('accepts a hand-placed PEM without an alg in its name, inferring the alg from the key type', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'wfid-file-'));
    const pem = generatePrivateKey('ES384').export({ format: 'pem', type: 'pkcs8' });
    await writeFile(join(dir, 'team-key.pem'), pem, { mode: 0o600 });
    const [key] = await new FileBackend(dir, 'ES256').listKeys();
    expect(key!.alg).toBe('ES384');
    expect(key!.ref).toBe('team-key.pem');
    await rm(dir, { recursive: true, force: true });
  });

  it('refuses a file whose name claims an alg its key cannot do', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'wfid-file-'));
    const pem = generatePrivateKey('ES256').export({ format: 'pem', type: 'pkcs8' });
    await writeFile(join(dir, '20260101T000000000Z-abcdef01.RS256.pem'), pem, { mode: 0o600 });
    const error = await new FileBackend(dir, 'ES256').listKeys().catch((err) => err);
    expect(isWfidError(error, 'ERR_KEY_UNSUITABLE')).toBe(true);
    await rm(dir, { recursive: true, force: true });
  });
});
