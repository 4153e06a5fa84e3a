import {
  constants,
  type KeyObject,
  type SignKeyObjectInput,
  type VerifyKeyObjectInput,
} from 'node:crypto';

export const JWS_ALGS = ['ES256', 'ES384', 'RS256', 'PS256', 'EdDSA'] as const;
export type JwsAlg = (typeof JWS_ALGS)[number];

export interface AlgorithmSpec {
  /** Digest the signature covers; null for EdDSA, which signs the message itself. */
  hash: 'sha256' | 'sha384' | null;
  keyType: 'ec' | 'rsa' | 'ed25519';
  /** For ECDSA: the curve and the byte length of each of r and s. */
  curve?: 'P-256' | 'P-384';
  coordinateSize?: number;
}

export const ALGORITHMS: Record<JwsAlg, AlgorithmSpec> = {
  ES256: { hash: 'sha256', keyType: 'ec', curve: 'P-256', coordinateSize: 32 },
  ES384: { hash: 'sha384', keyType: 'ec', curve: 'P-384', coordinateSize: 48 },
  RS256: { hash: 'sha256', keyType: 'rsa' },
  PS256: { hash: 'sha256', keyType: 'rsa' },
  EdDSA: { hash: null, keyType: 'ed25519' },
};

export function isJwsAlg(value: unknown): value is JwsAlg {
  return typeof value === 'string' && (JWS_ALGS as readonly string[]).includes(value);
}

const NODE_CURVE: Record<string, 'P-256' | 'P-384'> = { prime256v1: 'P-256', secp384r1: 'P-384' };

/** Whether a public or private key can produce/check signatures of `alg`. */
export function keyFitsAlg(key: KeyObject, alg: JwsAlg): boolean {
  const spec = ALGORITHMS[alg];
  const type = key.asymmetricKeyType;
  if (spec.keyType === 'ec') {
    return type === 'ec' && NODE_CURVE[key.asymmetricKeyDetails?.namedCurve ?? ''] === spec.curve;
  }
  if (spec.keyType === 'rsa') {
    return type === 'rsa' && (key.asymmetricKeyDetails?.modulusLength ?? 0) >= 2048;
  }
  return type === 'ed25519';
}

/**
 * The key as node:crypto sign/verify take it for `alg`: PSS with salt length = hash length
 * (RFC 7518 §3.5), PKCS#1 v1.5, or the bare key. ECDSA goes bare, so node:crypto speaks DER and
 * callers convert to and from the raw r||s JWS requires (§3.4): on Node 24 an options object
 * with `dsaEncoding` costs ~30 µs more per call than the ~28 µs P-256 signature itself.
 */
export function nodeKeyInput<K extends KeyObject>(
  alg: JwsAlg,
  key: K,
): K | (SignKeyObjectInput & VerifyKeyObjectInput) {
  switch (alg) {
    case 'PS256':
      return { key, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: 32 };
    case 'RS256':
      return { key, padding: constants.RSA_PKCS1_PADDING };
    default:
      return key;
  }
}
