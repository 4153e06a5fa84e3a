import { sign as cryptoSign, verify as cryptoVerify, type KeyObject } from 'node:crypto';
import { ALGORITHMS, type JwsAlg, nodeKeyInput } from './algorithms.js';
import { base64url } from './base64url.js';
import { derToRaw, rawToDer } from './ecdsa.js';

export interface JwsHeader {
  alg: JwsAlg;
  kid: string;
  typ?: string;
}

/** Anything that turns a JWS signing input into JOSE signature bytes, possibly remotely. */
export type SignFunction = (signingInput: Uint8Array) => Promise<Uint8Array>;

export function encodeHeader(header: JwsHeader): string {
  return base64url(JSON.stringify(header));
}

/**
 * Builds `header.payload.signature` (RFC 7515 §7.1): the one builder of every compact JWS the
 * issuer signs (tokens, status lists) and of the tests' and bench's. No JWT library accepts an
 * async remote signer, so the issuer assembles the compact form itself and only asks for the
 * signature. The header comes pre-encoded (it is fixed per key: the hot path should not
 * re-encode it); the payload as an object, or as JSON text already serialised (the mint path
 * serialises the parts fixed per execution once).
 */
export async function signCompact(
  encodedHeader: string,
  payload: object | string,
  sign: SignFunction,
): Promise<string> {
  const json = typeof payload === 'string' ? payload : JSON.stringify(payload);
  const signingInput = `${encodedHeader}.${base64url(json)}`;
  // base64url text is ASCII: latin1 copies it byte for byte.
  const signature = await sign(Buffer.from(signingInput, 'latin1'));
  return `${signingInput}.${base64url(signature)}`;
}

/**
 * Local JOSE signature with node:crypto (raw r||s, PSS salt = hash length).
 *
 * ECDSA signs with the bare KeyObject (DER out) and re-encodes the two integers: on Node 24,
 * handing node:crypto the key inside an options object (`{key, dsaEncoding}`) costs ~30 µs per
 * call on top of a ~28 µs P-256 signature (Node 26 no longer does). That was the largest cost
 * of POST /v1/token after the signature itself (bench/http.ts).
 */
export function signLocal(
  alg: JwsAlg,
  privateKey: KeyObject,
  signingInput: Uint8Array,
): Uint8Array {
  const { hash, coordinateSize } = ALGORITHMS[alg];
  if (coordinateSize !== undefined) {
    return derToRaw(cryptoSign(hash, signingInput, privateKey), coordinateSize);
  }
  return cryptoSign(hash, signingInput, nodeKeyInput(alg, privateKey));
}

/**
 * signLocal on libuv's thread pool: the event loop goes on serving requests while OpenSSL signs.
 * The file backend signs every token this way; on 2 cores it served about 1.6 times the tokens
 * per second of a synchronous sign, for less CPU per token (bench/http.ts).
 */
export function signLocalAsync(
  alg: JwsAlg,
  privateKey: KeyObject,
  signingInput: Uint8Array,
): Promise<Uint8Array> {
  const { hash, coordinateSize } = ALGORITHMS[alg];
  const key = coordinateSize !== undefined ? privateKey : nodeKeyInput(alg, privateKey);
  return new Promise((resolve, reject) => {
    cryptoSign(hash, signingInput, key, (error, signature) => {
      if (error) reject(error);
      else resolve(coordinateSize !== undefined ? derToRaw(signature, coordinateSize) : signature);
    });
  });
}

/** Checks a JOSE signature; a signature of the wrong shape is simply invalid. */
export function verifySignature(
  alg: JwsAlg,
  publicKey: KeyObject,
  signingInput: Uint8Array,
  signature: Uint8Array,
): boolean {
  const { hash, coordinateSize } = ALGORITHMS[alg];
  try {
    if (coordinateSize !== undefined) {
      // r||s of exactly the curve's size (RFC 7518 §3.4), checked as DER with the bare key (see signLocal).
      if (signature.length !== coordinateSize * 2) return false;
      return cryptoVerify(hash, signingInput, publicKey, rawToDer(signature));
    }
    return cryptoVerify(hash, signingInput, nodeKeyInput(alg, publicKey), signature);
  } catch {
    // A wrong-size or garbled signature makes OpenSSL throw; for a verifier that is just "invalid".
    return false;
  }
}
