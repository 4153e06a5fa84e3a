import {
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  type KeyObject,
  randomBytes,
} from 'node:crypto';
import { mkdir, readdir, readFile, rename, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { WfidError } from '../../src/errors.js';
import { ALGORITHMS, isJwsAlg, type JwsAlg, keyFitsAlg } from '../../src/jws/algorithms.js';
import { signLocalAsync } from '../../src/jws/compact.js';
import type { BackendFactory, BackendKey, KeyBackend } from '../../src/keys/backend.js';

const DISABLED_SUFFIX = '.disabled';
/** `<UTC stamp>-<random>.<ALG>.pem`: the name carries what PKCS#8 cannot (RS256 vs PS256, creation time). */
const NAME = /^(\d{8}T\d{6}\d{3}Z)-[0-9a-f]{8}\.([A-Za-z0-9]+)\.pem$/;

/**
 * Development and small installs: one PKCS#8 PEM file per key version in a directory
 * (mode 0700, files 0600). A version is disabled by renaming it to `*.pem.disabled`;
 * nothing is ever deleted by the issuer.
 */
export class FileBackend implements KeyBackend {
  readonly kind = 'file';
  readonly signsLocally = true;
  /** Every loaded version by ref; `enabled` is the file's state when last read or changed. */
  private readonly loaded = new Map<string, { privateKey: KeyObject; enabled: boolean }>();

  constructor(
    readonly dir: string,
    readonly alg: JwsAlg,
  ) {}

  async listKeys(): Promise<BackendKey[]> {
    let names: string[];
    try {
      names = await readdir(this.dir);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw new WfidError('ERR_BACKEND', `cannot read key directory ${this.dir}`, { cause: err });
    }
    const keys: BackendKey[] = [];
    for (const name of names.sort()) {
      const enabled = name.endsWith('.pem');
      const fileName = enabled ? name : name.slice(0, -DISABLED_SUFFIX.length);
      if (!enabled && !(name.endsWith(DISABLED_SUFFIX) && fileName.endsWith('.pem'))) continue;
      keys.push(await this.loadKey(name, fileName, enabled));
    }
    return keys;
  }

  async sign(key: BackendKey, signingInput: Uint8Array): Promise<Uint8Array> {
    const loaded = this.loaded.get(key.ref);
    if (!loaded)
      throw new WfidError('ERR_KEY_NOT_FOUND', `key file ${key.ref} not found in ${this.dir}`);
    if (!loaded.enabled) throw new WfidError('ERR_KEY_DISABLED', `key file ${key.ref} is disabled`);
    return signLocalAsync(key.alg, loaded.privateKey, signingInput);
  }

  async createKey(): Promise<BackendKey> {
    await mkdir(this.dir, { recursive: true, mode: 0o700 });
    const stamp = new Date().toISOString().replace(/[-:.]/g, '');
    const ref = `${stamp}-${randomBytes(4).toString('hex')}.${this.alg}.pem`;
    const pem = generatePrivateKey(this.alg).export({ format: 'pem', type: 'pkcs8' });
    // Write under a temporary name and rename: a crash never leaves a half-written key behind.
    const temporary = join(this.dir, `.${ref}.tmp`);
    await writeFile(temporary, pem, { mode: 0o600, flag: 'wx' });
    await rename(temporary, join(this.dir, ref));
    return this.loadKey(ref, ref, true);
  }

  async disableKey(key: BackendKey): Promise<void> {
    const path = join(this.dir, key.ref);
    try {
      await rename(path, path + DISABLED_SUFFIX);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
        throw new WfidError('ERR_KEY_NOT_FOUND', `key file ${key.ref} not found in ${this.dir}`);
      }
      throw err;
    }
    const loaded = this.loaded.get(key.ref);
    if (loaded) loaded.enabled = false;
  }

  private async loadKey(name: string, ref: string, enabled: boolean): Promise<BackendKey> {
    const path = join(this.dir, name);
    const info = await stat(path);
    if ((info.mode & 0o077) !== 0) {
      // As ssh does with identity files: a signing key others can read is not used.
      throw new WfidError(
        'ERR_KEY_FILE_PERMISSIONS',
        `key file ${path} is readable by group or others (mode ${(info.mode & 0o777).toString(8)}); run: chmod 600 ${path}`,
      );
    }
    let privateKey: KeyObject;
    try {
      privateKey = createPrivateKey({ key: await readFile(path), format: 'pem' });
    } catch (err) {
      throw new WfidError('ERR_BACKEND', `key file ${path} is not a PEM private key`, {
        cause: err,
      });
    }
    const match = NAME.exec(ref);
    const alg = algFor(privateKey, match?.[2], path);
    this.loaded.set(ref, { privateKey, enabled });
    return {
      ref,
      alg,
      publicKey: createPublicKey(privateKey),
      createdAt: match ? parseStamp(match[1]!) : info.mtime,
      enabled,
    };
  }
}

function algFor(privateKey: KeyObject, named: string | undefined, path: string): JwsAlg {
  if (named !== undefined) {
    if (!isJwsAlg(named) || !keyFitsAlg(privateKey, named)) {
      throw new WfidError('ERR_KEY_UNSUITABLE', `key file ${path} cannot sign ${named}`);
    }
    return named;
  }
  // A file placed by hand without an alg in its name: the key type decides (RSA means RS256).
  const inferred = (['ES256', 'ES384', 'EdDSA', 'RS256'] as const).find((alg) =>
    keyFitsAlg(privateKey, alg),
  );
  if (!inferred)
    throw new WfidError('ERR_KEY_UNSUITABLE', `key file ${path} holds an unsupported key type`);
  return inferred;
}

function parseStamp(stamp: string): Date {
  const iso = `${stamp.slice(0, 4)}-${stamp.slice(4, 6)}-${stamp.slice(6, 8)}T${stamp.slice(9, 11)}:${stamp.slice(11, 13)}:${stamp.slice(13, 15)}.${stamp.slice(15, 18)}Z`;
  return new Date(iso);
}

export function generatePrivateKey(alg: JwsAlg): KeyObject {
  const spec = ALGORITHMS[alg];
  if (spec.keyType === 'ec')
    return generateKeyPairSync('ec', { namedCurve: spec.curve! }).privateKey;
  if (spec.keyType === 'rsa') return generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey;
  return generateKeyPairSync('ed25519').privateKey;
}

/** `file://./data/keys` or `file:///var/lib/wfid/keys`: everything after `file://` is the path. */
export function keyDirectory(uri: string): string {
  if (!uri.startsWith('file://'))
    throw new WfidError('ERR_CONFIG', `keys: not a file:// URI: ${uri}`);
  const path = decodeURIComponent(uri.slice('file://'.length));
  if (path === '') throw new WfidError('ERR_CONFIG', 'keys: file:// URI without a directory');
  return path;
}

/** Opens the key directory; listing it checks every key file (permissions, alg). */
export const createBackend: BackendFactory<undefined> = async ({ uri, alg }) => {
  const backend = new FileBackend(keyDirectory(uri), alg);
  await backend.listKeys();
  return backend;
};
