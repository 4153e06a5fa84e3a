/**
 * `workflow-identity/verify`: verify workflow identity tokens as a relying party. Independent
 * of the issuer's server code; it needs only node:crypto, node:zlib and fetch.
 *
 * @example
 * ```ts
 * import { createVerifier } from 'workflow-identity/verify';
 *
 * const verifier = createVerifier({ issuer: 'https://wfid.example.com', audience: 'my-service' });
 * const { payload } = await verifier.verify(process.env.WORKFLOW_ID_TOKEN!);
 * ```
 */
export type { JwsAlg } from '../jws/algorithms.js';
export type { TokenClaims } from './claims.js';
export {
  isJwtVerificationError,
  JwtVerificationError,
  type VerificationErrorCode,
} from './errors.js';
export type { VerifierOptions } from './options.js';
export {
  createVerifier,
  type VerifiedHeader,
  type VerifiedToken,
  type Verifier,
} from './verifier.js';
