import { sign as cryptoSign, verify as cryptoVerify, type KeyObject } from 'node:crypto';
import { ALGORITHMS, type JwsAlg, nodeKeyInput } from './algorithms.js';
import { base64url } from './base64url.js';

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

/** Local JOSE signature with node:crypto (raw r||s, PSS salt = hash length). */
export function signLocal(alg: JwsAlg, privateKey: KeyObject, signingInput: Uint8Array): Buffer {
  return cryptoSign(ALGORITHMS[alg].hash, signingInput, nodeKeyInput(alg, privateKey));
}

export function verifySignature(
  alg: JwsAlg,
  publicKey: KeyObject,
  signingInput: Uint8Array,
  signature: Uint8Array,
): boolean {
  try {
    return cryptoVerify(
      ALGORITHMS[alg].hash,
      signingInput,
      nodeKeyInput(alg, publicKey),
      signature,
    );
  } catch {
    // A wrong-size or garbled signature makes OpenSSL throw; for a verifier that is just "invalid".
    return false;
  }
}
