/**
 * The in-memory Cloud KMS behind test/peers/gcp-kms-server.ts: key rings, keys, versions and
 * their states, public keys and signing.
 * Messages are plain objects in the camelCase form @grpc/proto-loader serialises.
 */
import { crc32c } from '../../backends/gcp-kms/crc32c.js';
import { int64, type Message, RpcError } from './gcp-kms-faults.js';
import {
  type AlgorithmSpec,
  digestLength,
  generateFor,
  type KeyPair,
  SIGN_ALGORITHMS,
  signWith,
} from './gcp-kms-keys.js';

const ID = '[a-zA-Z0-9_-]{1,63}';
const LOCATION = new RegExp(`^projects/${ID}/locations/${ID}$`);
const KEY_RING = new RegExp(`^projects/${ID}/locations/${ID}/keyRings/${ID}$`);
const CRYPTO_KEY = new RegExp(`^projects/${ID}/locations/${ID}/keyRings/${ID}/cryptoKeys/${ID}$`);
const VERSION = new RegExp(
  `^(projects/${ID}/locations/${ID}/keyRings/${ID}/cryptoKeys/${ID})/cryptoKeyVersions/(\\d+)$`,
);

interface Version {
  name: string;
  state: string;
  algorithm: string;
  createTime: Date;
  generateTime?: Date;
  destroyTime?: Date;
  keys?: KeyPair;
}

interface CryptoKey {
  name: string;
  purpose: string;
  algorithm: string;
  createTime: Date;
  versions: Map<number, Version>;
  nextVersion: number;
}

const timestamp = (date: Date) => ({
  seconds: Math.floor(date.getTime() / 1000),
  nanos: (date.getTime() % 1000) * 1e6,
});

export class KmsState {
  private readonly keyRings = new Map<string, Date>();
  private readonly cryptoKeys = new Map<string, CryptoKey>();
  /** How long a generated version stays PENDING_GENERATION (an HSM takes seconds). */
  private generationDelay = 30;

  /** How long new versions stay PENDING_GENERATION. */
  setGenerationDelay(ms: number): void {
    this.generationDelay = ms;
  }

  createKeyRing(parent: string, id: string) {
    const name = `${parent}/keyRings/${id}`;
    if (!LOCATION.test(parent) || !KEY_RING.test(name)) throw invalid('key ring name');
    if (this.keyRings.has(name))
      throw new RpcError('ALREADY_EXISTS', `KeyRing ${name} already exists.`);
    this.keyRings.set(name, new Date());
    return this.getKeyRing(name);
  }

  getKeyRing(name: string) {
    const created = this.keyRings.get(name);
    if (!created) throw new RpcError('NOT_FOUND', `KeyRing ${name} not found.`);
    return { name, createTime: timestamp(created) };
  }

  createCryptoKey(parent: string, id: string, template: Message, skipInitial: boolean) {
    if (!this.keyRings.has(parent)) throw new RpcError('NOT_FOUND', `KeyRing ${parent} not found.`);
    if (!new RegExp(`^${ID}$`).test(id)) throw invalid('crypto key id');
    const name = `${parent}/cryptoKeys/${id}`;
    if (this.cryptoKeys.has(name))
      throw new RpcError('ALREADY_EXISTS', `CryptoKey ${name} already exists.`);
    const algorithm = template.versionTemplate?.algorithm;
    if (template.purpose !== 'ASYMMETRIC_SIGN' || !SIGN_ALGORITHMS[algorithm]) {
      throw invalid('this server only holds ASYMMETRIC_SIGN keys with a known signing algorithm');
    }
    const key: CryptoKey = {
      name,
      purpose: 'ASYMMETRIC_SIGN',
      algorithm,
      createTime: new Date(),
      versions: new Map(),
      nextVersion: 1,
    };
    this.cryptoKeys.set(name, key);
    if (!skipInitial) this.addVersion(key);
    return this.cryptoKeyMessage(key);
  }

  getCryptoKey(name: string) {
    return this.cryptoKeyMessage(this.cryptoKey(name));
  }

  listVersions(parent: string, pageSize: number, pageToken: string) {
    const key = this.cryptoKey(parent);
    const all = [...key.versions.values()];
    const offset = pageToken ? Number(Buffer.from(pageToken, 'base64url').toString()) : 0;
    if (!Number.isInteger(offset) || offset < 0 || offset > all.length) throw invalid('page_token');
    const size = pageSize > 0 ? Math.min(pageSize, 1000) : 25;
    const page = all.slice(offset, offset + size);
    const next =
      offset + size < all.length ? Buffer.from(String(offset + size)).toString('base64url') : '';
    return {
      cryptoKeyVersions: page.map(versionMessage),
      nextPageToken: next,
      totalSize: all.length,
    };
  }

  getVersion(name: string) {
    return versionMessage(this.version(name));
  }

  createVersion(parent: string) {
    return versionMessage(this.addVersion(this.cryptoKey(parent)));
  }

  updateVersion(update: Message, paths: string[]) {
    const version = this.version(update.name ?? '');
    if (paths.length === 0) throw invalid('update_mask is required');
    for (const path of paths) {
      if (path !== 'state') throw invalid(`update_mask path ${path} is not updatable`);
    }
    const target = update.state;
    const movable = ['ENABLED', 'DISABLED'];
    if (!movable.includes(target) || !movable.includes(version.state)) {
      throw new RpcError(
        'FAILED_PRECONDITION',
        `${version.name} cannot move from ${version.state} to ${target}.`,
      );
    }
    version.state = target;
    return versionMessage(version);
  }

  destroyVersion(name: string) {
    const version = this.version(name);
    if (!['ENABLED', 'DISABLED'].includes(version.state)) {
      throw new RpcError(
        'FAILED_PRECONDITION',
        `${name} is not enabled or disabled, current state is: ${version.state}.`,
      );
    }
    version.state = 'DESTROY_SCHEDULED';
    version.destroyTime = new Date(Date.now() + 24 * 3600_000);
    return versionMessage(version);
  }

  publicKey(name: string) {
    const version = this.usable(name);
    const pem = version.keys!.publicKey.export({ format: 'pem', type: 'spki' }) as string;
    return {
      pem,
      pemCrc32c: int64(crc32c(pem)),
      algorithm: version.algorithm,
      name,
      protectionLevel: 'SOFTWARE',
    };
  }

  asymmetricSign(request: Message) {
    const version = this.usable(request.name);
    const spec = SIGN_ALGORITHMS[version.algorithm]!;
    const input = signingInput(spec, request);
    const signature = signWith(spec, version.keys!, input.bytes);
    return {
      signature,
      signatureCrc32c: int64(crc32c(signature)),
      verifiedDigestCrc32c: input.field === 'digest' && input.checked,
      verifiedDataCrc32c: input.field === 'data' && input.checked,
      name: version.name,
      protectionLevel: 'SOFTWARE',
    };
  }

  private addVersion(key: CryptoKey): Version {
    const id = key.nextVersion++;
    const version: Version = {
      name: `${key.name}/cryptoKeyVersions/${id}`,
      state: 'PENDING_GENERATION',
      algorithm: key.algorithm,
      createTime: new Date(),
    };
    key.versions.set(id, version);
    // Generation is asynchronous, as in Cloud KMS: the version is listed before it is usable.
    const delay = this.generationDelay;
    generateFor(SIGN_ALGORITHMS[key.algorithm]!).then(
      (keys) =>
        setTimeout(() => {
          version.keys = keys;
          version.generateTime = new Date();
          if (version.state === 'PENDING_GENERATION') version.state = 'ENABLED';
        }, delay),
      () => {
        version.state = 'GENERATION_FAILED';
      },
    );
    return version;
  }

  private cryptoKey(name: string): CryptoKey {
    if (!CRYPTO_KEY.test(name)) throw invalid(`resource name ${name}`);
    const key = this.cryptoKeys.get(name);
    if (!key) throw new RpcError('NOT_FOUND', `CryptoKey ${name} not found.`);
    return key;
  }

  private version(name: string): Version {
    const match = VERSION.exec(name);
    if (!match) throw invalid(`resource name ${name}`);
    const version = this.cryptoKey(match[1]!).versions.get(Number(match[2]));
    if (!version) throw new RpcError('NOT_FOUND', `CryptoKeyVersion ${name} not found.`);
    return version;
  }

  /** A version that may be used: anything but ENABLED is FAILED_PRECONDITION, as Cloud KMS answers. */
  private usable(name: string): Version {
    const version = this.version(name);
    if (version.state !== 'ENABLED') {
      throw new RpcError(
        'FAILED_PRECONDITION',
        `${name} is not enabled, current state is: ${version.state}.`,
      );
    }
    return version;
  }

  private cryptoKeyMessage(key: CryptoKey) {
    return {
      name: key.name,
      purpose: key.purpose,
      createTime: timestamp(key.createTime),
      versionTemplate: { algorithm: key.algorithm, protectionLevel: 'SOFTWARE' },
    };
  }
}

function versionMessage(version: Version) {
  return {
    name: version.name,
    state: version.state,
    algorithm: version.algorithm,
    protectionLevel: 'SOFTWARE',
    createTime: timestamp(version.createTime),
    generateTime: version.generateTime ? timestamp(version.generateTime) : null,
    destroyTime: version.destroyTime ? timestamp(version.destroyTime) : null,
  };
}

/** What AsymmetricSign signs: the digest (right hash, right length) or, for Ed25519, the data. */
function signingInput(spec: AlgorithmSpec, request: Message) {
  const digestField: string | undefined = request.digest?.digest;
  const data: Buffer = request.data ?? Buffer.alloc(0);
  if (digestField && data.length > 0) throw invalid('only one of digest and data may be set');
  const field = spec.digest === null ? 'data' : 'digest';
  let bytes: Buffer;
  if (field === 'data') {
    if (digestField) throw invalid(`${spec.kind} keys sign data, not a digest`);
    bytes = data;
  } else {
    if (digestField !== spec.digest) throw invalid(`digest must be ${spec.digest} for this key`);
    bytes = request.digest[digestField];
    if (bytes.length !== digestLength(spec.digest!))
      throw invalid(`${spec.digest} digest must be ${digestLength(spec.digest!)} bytes`);
  }
  const sent = request[field === 'data' ? 'dataCrc32c' : 'digestCrc32c'];
  if (sent && Number(sent.value) !== crc32c(bytes)) {
    throw invalid(
      `The checksum in field ${field}_crc32c did not match the data in field ${field}.`,
    );
  }
  return { bytes, field, checked: Boolean(sent) };
}

function invalid(what: string): RpcError {
  return new RpcError(
    'INVALID_ARGUMENT',
    what.startsWith('The ') ? what : `Invalid argument: ${what}`,
  );
}
