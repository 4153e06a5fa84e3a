export { ALGORITHMS, isJwsAlg, JWS_ALGS, type JwsAlg, keyFitsAlg } from './algorithms.js';
export { base64url, fromBase64url } from './base64url.js';
export {
  encodeHeader,
  type JwsHeader,
  type ParsedCompact,
  parseCompact,
  type SignFunction,
  signCompact,
  signLocal,
  verifySignature,
} from './compact.js';
export { derToRaw, rawToDer } from './ecdsa.js';
export { jwkThumbprint, type PublicJwk, publicKeyFromSpki, toPublicJwk } from './jwk.js';
