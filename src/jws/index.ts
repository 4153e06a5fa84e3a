export { ALGORITHMS, isJwsAlg, JWS_ALGS, type JwsAlg, keyFitsAlg } from './algorithms.js';
export { base64url, fromBase64url } from './base64url.js';
export {
  encodeHeader,
  type JwsHeader,
  type SignFunction,
  signCompact,
  signLocal,
  verifySignature,
} from './compact.js';
export { type CompactVerifier, createCompactVerifier, type ReadJws } from './compact-verifier.js';
export { type CompactParts, decodeCompact, MAX_TOKEN_LENGTH } from './decode-compact.js';
export { derToRaw, rawToDer } from './ecdsa.js';
export { JwsError, type JwsFailure } from './errors.js';
export { jwkThumbprint, type PublicJwk, publicKeyFromSpki, toPublicJwk } from './jwk.js';
export {
  checkProtectedHeader,
  type HeaderRules,
  type ProtectedHeader,
} from './protected-header.js';
export { checkValidity } from './validity.js';
