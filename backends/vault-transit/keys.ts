import { createPublicKey, type KeyObject } from 'node:crypto';
import { WfidError } from '../../src/errors.js';
import { type JwsAlg, keyFitsAlg } from '../../src/jws/algorithms.js';
import type { BackendKey } from '../../src/keys/backend.js';

export type TransitKeyType =
  | 'ecdsa-p256'
  | 'ecdsa-p384'
  | 'rsa-2048'
  | 'rsa-3072'
  | 'rsa-4096'
  | 'ed25519';

/** Which JWS algs each signing key type of Transit can produce. */
const ALGS_OF_TYPE: Record<TransitKeyType, readonly JwsAlg[]> = {
  'ecdsa-p256': ['ES256'],
  'ecdsa-p384': ['ES384'],
  'rsa-2048': ['RS256', 'PS256'],
  'rsa-3072': ['RS256', 'PS256'],
  'rsa-4096': ['RS256', 'PS256'],
  ed25519: ['EdDSA'],
};

/** The Transit key type the issuer creates for `alg`, unless `vault.key_type` says otherwise. */
export function keyTypeFor(alg: JwsAlg, configured?: TransitKeyType): TransitKeyType {
  if (configured) {
    if (!ALGS_OF_TYPE[configured].includes(alg)) {
      throw new WfidError('ERR_CONFIG', `vault.key_type: a ${configured} key cannot sign ${alg}`);
    }
    return configured;
  }
  const byAlg: Record<JwsAlg, TransitKeyType> = {
    ES256: 'ecdsa-p256',
    ES384: 'ecdsa-p384',
    RS256: 'rsa-2048',
    PS256: 'rsa-2048',
    EdDSA: 'ed25519',
  };
  return byAlg[alg];
}

/** What `GET <mount>/keys/<name>` says about a key, reduced to what signing needs. */
export interface TransitKey {
  name: string;
  type: string;
  latestVersion: number;
  /** Transit signs only with versions at or above this (0: every version). */
  minEncryptionVersion: number;
  /** Transit verifies only signatures of versions at or above this. */
  minDecryptionVersion: number;
  softDeleted: boolean;
  versions: { version: number; publicKey: KeyObject; createdAt: Date }[];
}

export function parseTransitKey(name: string, data: Record<string, unknown>): TransitKey {
  if (!(String(data.type) in ALGS_OF_TYPE)) {
    // Checked first: an AES or HMAC key lists creation times where signing keys list public keys.
    throw new WfidError(
      'ERR_KEY_UNSUITABLE',
      `Transit key ${name} is of type ${String(data.type)}, which cannot sign JWTs`,
    );
  }
  const listed = (data.keys ?? {}) as Record<
    string,
    { public_key?: string; creation_time?: string }
  >;
  const versions = Object.entries(listed)
    .map(([version, entry]) => ({
      version: Number(version),
      publicKey: parsePublicKey(entry.public_key ?? '', String(data.type), name, version),
      createdAt: new Date(entry.creation_time ?? 0),
    }))
    .sort((a, b) => b.version - a.version);
  return {
    name,
    type: String(data.type),
    latestVersion: Number(data.latest_version ?? 0),
    minEncryptionVersion: Number(data.min_encryption_version ?? 0),
    minDecryptionVersion: Number(data.min_decryption_version ?? 0),
    softDeleted: data.soft_deleted === true,
    versions,
  };
}

/**
 * Every version Transit still holds (from min_available_version; trimmed versions are gone),
 * newest first. A version is enabled while Transit will sign with it and still vouches for its
 * signatures: at or above min_encryption_version and min_decryption_version, key not soft-deleted.
 * Both thresholds are reversible settings; trimming (min_available_version) is not.
 */
export function backendKeysOf(key: TransitKey, alg: JwsAlg): BackendKey[] {
  const usableAlg = algOf(key, alg);
  return key.versions.map(({ version, publicKey, createdAt }) => {
    if (!keyFitsAlg(publicKey, usableAlg)) {
      throw new WfidError(
        'ERR_KEY_UNSUITABLE',
        `Transit key ${key.name} version ${version} cannot sign ${usableAlg}`,
      );
    }
    return {
      ref: refOf(key.name, version),
      alg: usableAlg,
      publicKey,
      createdAt,
      enabled: isSigningVersion(key, version),
    };
  });
}

export function isSigningVersion(key: TransitKey, version: number): boolean {
  return (
    !key.softDeleted && version >= key.minEncryptionVersion && version >= key.minDecryptionVersion
  );
}

/** The configured alg if this key type can do it (an RSA key can do RS256 and PS256). */
function algOf(key: TransitKey, alg: JwsAlg): JwsAlg {
  const algs = ALGS_OF_TYPE[key.type as TransitKeyType];
  if (!algs)
    throw new WfidError(
      'ERR_KEY_UNSUITABLE',
      `Transit key ${key.name} is of type ${key.type}, which cannot sign JWTs`,
    );
  if (!algs.includes(alg)) {
    throw new WfidError(
      'ERR_KEY_UNSUITABLE',
      `Transit key ${key.name} is of type ${key.type}, which cannot sign ${alg} (it can sign ${algs.join(', ')})`,
    );
  }
  return alg;
}

/** `wfid#3`: one version of a Transit key. */
export function refOf(name: string, version: number): string {
  return `${name}#${version}`;
}

export function parseRef(ref: string): { name: string; version: number } | undefined {
  const match = /^(.+)#([1-9]\d*)$/.exec(ref);
  return match ? { name: match[1]!, version: Number(match[2]) } : undefined;
}

/** Transit returns PEM SPKI for ECDSA and RSA, and the raw 32-byte key in base64 for ed25519. */
function parsePublicKey(text: string, type: string, name: string, version: string): KeyObject {
  try {
    if (type === 'ed25519') {
      const x = Buffer.from(text, 'base64').toString('base64url');
      return createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x }, format: 'jwk' });
    }
    return createPublicKey({ key: text, format: 'pem' });
  } catch (err) {
    throw new WfidError(
      'ERR_BACKEND',
      `Transit key ${name} version ${version} has no readable public key`,
      { cause: err },
    );
  }
}
