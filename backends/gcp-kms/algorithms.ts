import type { JwsAlg } from '../../src/jws/algorithms.js';

/**
 * CryptoKeyVersionAlgorithm → JWS alg. Only algorithms whose hash and padding JWS defines:
 * the SHA-512 RSA variants, secp256k1 (ES256K is not one of our algs), raw PKCS#1 and the
 * post-quantum ones have no mapping and their versions are skipped with a warning.
 */
const JWS_ALG_OF: Record<string, JwsAlg> = {
  EC_SIGN_P256_SHA256: 'ES256',
  EC_SIGN_P384_SHA384: 'ES384',
  RSA_SIGN_PKCS1_2048_SHA256: 'RS256',
  RSA_SIGN_PKCS1_3072_SHA256: 'RS256',
  RSA_SIGN_PKCS1_4096_SHA256: 'RS256',
  RSA_SIGN_PSS_2048_SHA256: 'PS256',
  RSA_SIGN_PSS_3072_SHA256: 'PS256',
  RSA_SIGN_PSS_4096_SHA256: 'PS256',
  EC_SIGN_ED25519: 'EdDSA',
};

export function jwsAlgOf(algorithm: string | number | null | undefined): JwsAlg | undefined {
  return typeof algorithm === 'string' ? JWS_ALG_OF[algorithm] : undefined;
}
