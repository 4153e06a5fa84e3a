import { createHash, createPublicKey, type JsonWebKey, type KeyObject } from 'node:crypto';
import type { JwsAlg } from './algorithms.js';

/** The public JWK of a key as published in the JWKS: public members only, plus kid/alg/use. */
export interface PublicJwk {
  kty: 'EC' | 'RSA' | 'OKP';
  kid: string;
  alg: JwsAlg;
  use: 'sig';
  crv?: string;
  x?: string;
  y?: string;
  n?: string;
  e?: string;
}

/** Members RFC 7638 §3.2 requires, per key type, in lexicographic order. */
const THUMBPRINT_MEMBERS: Record<string, readonly string[]> = {
  EC: ['crv', 'kty', 'x', 'y'],
  RSA: ['e', 'kty', 'n'],
  OKP: ['crv', 'kty', 'x'],
};

/** RFC 7638 JWK thumbprint (SHA-256, base64url): the kid, stable and free of backend names. */
export function jwkThumbprint(jwk: JsonWebKey): string {
  const members = THUMBPRINT_MEMBERS[jwk.kty ?? ''];
  if (!members) throw new TypeError(`unsupported JWK kty: ${String(jwk.kty)}`);
  const canonical = `{${members
    .map((name) => {
      const value = jwk[name];
      if (typeof value !== 'string') throw new TypeError(`JWK lacks member ${name}`);
      return `${JSON.stringify(name)}:${JSON.stringify(value)}`;
    })
    .join(',')}}`;
  return createHash('sha256').update(canonical).digest('base64url');
}

/** Public JWK of a key object. Refuses private keys so nothing secret can reach a JWKS. */
export function toPublicJwk(publicKey: KeyObject, alg: JwsAlg): PublicJwk {
  if (publicKey.type !== 'public') throw new TypeError('expected a public key');
  const jwk = publicKey.export({ format: 'jwk' });
  const kid = jwkThumbprint(jwk);
  const pick = (names: readonly string[]) =>
    Object.fromEntries(names.map((name) => [name, jwk[name]]));
  return {
    ...(pick(THUMBPRINT_MEMBERS[jwk.kty!]!) as Omit<PublicJwk, 'kid' | 'alg' | 'use'>),
    kid,
    alg,
    use: 'sig',
  };
}

/** A public key from SPKI (DER bytes or PEM text), as KMS services hand them out. */
export function publicKeyFromSpki(spki: Uint8Array | string): KeyObject {
  const key =
    typeof spki === 'string'
      ? createPublicKey({ key: spki, format: 'pem' })
      : createPublicKey({ key: Buffer.from(spki), format: 'der', type: 'spki' });
  if (key.type !== 'public') throw new TypeError('expected a public key');
  return key;
}
