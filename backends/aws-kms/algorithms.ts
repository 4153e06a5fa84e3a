import type { KeyMetadata, KeySpec, SigningAlgorithmSpec } from '@aws-sdk/client-kms';
import { WfidError } from '../../src/errors.js';
import type { JwsAlg } from '../../src/jws/algorithms.js';

/** JWS alg → KMS SigningAlgorithm. KMS PSS uses salt length = digest length, as RFC 7518 §3.5 needs. */
export const SIGNING_ALGORITHM: Partial<Record<JwsAlg, SigningAlgorithmSpec>> = {
  ES256: 'ECDSA_SHA_256',
  ES384: 'ECDSA_SHA_384',
  RS256: 'RSASSA_PKCS1_V1_5_SHA_256',
  PS256: 'RSASSA_PSS_SHA_256',
};

/** KeySpecs that can sign each alg. KMS has no Ed25519 signing key for JWS use, so no EdDSA. */
const KEY_SPECS: Partial<Record<JwsAlg, readonly KeySpec[]>> = {
  ES256: ['ECC_NIST_P256'],
  ES384: ['ECC_NIST_P384'],
  RS256: ['RSA_2048', 'RSA_3072', 'RSA_4096'],
  PS256: ['RSA_2048', 'RSA_3072', 'RSA_4096'],
};

/** KeySpec of a key the issuer creates for `alg`. */
export function keySpecFor(alg: JwsAlg, rsaKeySpec: KeySpec): KeySpec {
  if (alg === 'ES256') return 'ECC_NIST_P256';
  if (alg === 'ES384') return 'ECC_NIST_P384';
  if (alg === 'RS256' || alg === 'PS256') return rsaKeySpec;
  throw new WfidError(
    'ERR_CONFIG',
    `alg: the aws-kms backend cannot sign ${alg} (use ES256, ES384, RS256 or PS256)`,
  );
}

/**
 * Refuses a key that cannot make `alg` signatures: wrong KeyUsage (ENCRYPT_DECRYPT), wrong
 * KeySpec (a P-384 key for ES256, a symmetric key) or a key whose SigningAlgorithms lack it.
 */
export function assertKeyFitsAlg(metadata: KeyMetadata, alg: JwsAlg): void {
  const name = metadata.Arn ?? metadata.KeyId ?? 'the key';
  const signingAlgorithm = SIGNING_ALGORITHM[alg];
  if (!signingAlgorithm) {
    throw new WfidError(
      'ERR_CONFIG',
      `alg: the aws-kms backend cannot sign ${alg} (use ES256, ES384, RS256 or PS256)`,
    );
  }
  if (metadata.KeyUsage !== 'SIGN_VERIFY') {
    throw new WfidError(
      'ERR_KEY_UNSUITABLE',
      `KMS key ${name} has KeyUsage ${metadata.KeyUsage ?? 'unknown'}; signing ${alg} needs a SIGN_VERIFY key`,
    );
  }
  const spec = metadata.KeySpec ?? metadata.CustomerMasterKeySpec;
  if (!spec || !KEY_SPECS[alg]!.includes(spec as KeySpec)) {
    throw new WfidError(
      'ERR_KEY_UNSUITABLE',
      `KMS key ${name} has KeySpec ${spec ?? 'unknown'}; ${alg} needs ${KEY_SPECS[alg]!.join(' or ')}`,
    );
  }
  if (metadata.SigningAlgorithms && !metadata.SigningAlgorithms.includes(signingAlgorithm)) {
    throw new WfidError('ERR_KEY_UNSUITABLE', `KMS key ${name} does not offer ${signingAlgorithm}`);
  }
}
