import { createHash } from 'node:crypto';
import { ALGORITHMS, type JwsAlg } from '../../src/jws/algorithms.js';
import type { Pkcs11Sdk } from './library.js';
import { CKM_EDDSA } from './objects.js';

type Mechanism = Parameters<import('pkcs11js').PKCS11['C_SignInit']>[1];

export interface SigningPlan {
  mechanism: Mechanism;
  /** What the token signs: our digest for ECDSA, the signing input where the token hashes. */
  data: Buffer;
}

/**
 * How one JWS alg is signed on a token. ECDSA goes as CKM_ECDSA over a digest computed here
 * (SoftHSM2 has no CKM_ECDSA_SHA256, and the digest is all the token needs to see); it returns
 * r||s, which is the JWS encoding already. RSA uses the hashing mechanisms, PSS with
 * salt length = hash length as RFC 7518 §3.5 requires; EdDSA signs the input itself.
 */
export function signingPlan(sdk: Pkcs11Sdk, alg: JwsAlg, signingInput: Uint8Array): SigningPlan {
  const input = Buffer.from(signingInput.buffer, signingInput.byteOffset, signingInput.byteLength);
  switch (alg) {
    case 'ES256':
    case 'ES384':
      return {
        mechanism: { mechanism: sdk.CKM_ECDSA },
        data: createHash(ALGORITHMS[alg].hash!).update(input).digest(),
      };
    case 'RS256':
      return { mechanism: { mechanism: sdk.CKM_SHA256_RSA_PKCS }, data: input };
    case 'PS256':
      return {
        mechanism: {
          mechanism: sdk.CKM_SHA256_RSA_PKCS_PSS,
          parameter: {
            type: sdk.CK_PARAMS_RSA_PSS,
            hashAlg: sdk.CKM_SHA256,
            mgf: sdk.CKG_MGF1_SHA256,
            saltLen: 32,
          },
        } as Mechanism,
        data: input,
      };
    case 'EdDSA':
      return { mechanism: { mechanism: CKM_EDDSA }, data: input };
  }
}
