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
 * Local JOSE signature with node:crypto: raw r||s for ECDSA (signed as DER with the bare key
 * and converted, see nodeKeyInput), PSS with salt = hash length.
 */
export function signLocal(
  alg: JwsAlg,
  privateKey: KeyObject,
  signingInput: Uint8Array,
): Uint8Array {
  return joseSignature(
    alg,
    cryptoSign(ALGORITHMS[alg].hash, signingInput, nodeKeyInput(alg, privateKey)),
  );
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
  return new Promise((resolve, reject) => {
    cryptoSign(
      ALGORITHMS[alg].hash,
      signingInput,
      nodeKeyInput(alg, privateKey),
      (error, signature) => {
        if (error) reject(error);
        else resolve(joseSignature(alg, signature));
      },
    );
  });
}

/** node:crypto's signature as JWS carries it: ECDSA's DER as raw r||s, the others as they are. */
function joseSignature(alg: JwsAlg, signature: Uint8Array): Uint8Array {
  const { coordinateSize } = ALGORITHMS[alg];
  return coordinateSize === undefined ? signature : derToRaw(signature, coordinateSize);
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
    const key = nodeKeyInput(alg, publicKey);
    if (coordinateSize === undefined) return cryptoVerify(hash, signingInput, key, signature);
    // r||s of exactly the curve's size (RFC 7518 §3.4), checked as DER (see nodeKeyInput).
    if (signature.length !== coordinateSize * 2) return false;
    return cryptoVerify(hash, signingInput, key, rawToDer(signature));
  } catch {
    // A wrong-size or garbled signature makes OpenSSL throw; for a verifier that is just "invalid".
    return false;
  }
}
