/**
 * Key material of the fake Cloud KMS: generation per CryptoKeyVersionAlgorithm and signing
 * of a *digest* (as Cloud KMS does for every algorithm but Ed25519), with node:crypto only.
 * node:crypto has no "sign this precomputed digest" call, so the three schemes are put
 * together from primitives that do exist: ECDSA from an ECDH scalar multiplication (k·G) and
 * BigInt arithmetic mod n, PKCS#1 v1.5 from privateEncrypt over DigestInfo, and PSS from
 * EMSA-PSS encoding (RFC 8017 §9.1.1) plus raw RSA. Signatures are real: the backend under
 * test verifies them with node:crypto against the PEM this server hands out.
 */
import {
  constants,
  createECDH,
  createHash,
  generateKeyPair,
  type KeyObject,
  privateEncrypt,
  randomBytes,
  sign,
} from 'node:crypto';
import { promisify } from 'node:util';

const generate = promisify(generateKeyPair);

export interface AlgorithmSpec {
  kind: 'ec' | 'rsa-pkcs1' | 'rsa-pss' | 'ed25519';
  /** Which `Digest` oneof field AsymmetricSign expects; null for Ed25519, which signs `data`. */
  digest: 'sha256' | 'sha384' | 'sha512' | null;
  curve?: 'prime256v1' | 'secp384r1' | 'secp256k1';
  modulusLength?: number;
}

/** The signing algorithms this server knows; others are refused at CreateCryptoKey. */
export const SIGN_ALGORITHMS: Record<string, AlgorithmSpec> = {
  EC_SIGN_P256_SHA256: { kind: 'ec', digest: 'sha256', curve: 'prime256v1' },
  EC_SIGN_P384_SHA384: { kind: 'ec', digest: 'sha384', curve: 'secp384r1' },
  // Listed so the backend's "algorithm we cannot use is skipped" path meets a real version.
  EC_SIGN_SECP256K1_SHA256: { kind: 'ec', digest: 'sha256', curve: 'secp256k1' },
  RSA_SIGN_PKCS1_2048_SHA256: { kind: 'rsa-pkcs1', digest: 'sha256', modulusLength: 2048 },
  RSA_SIGN_PKCS1_3072_SHA256: { kind: 'rsa-pkcs1', digest: 'sha256', modulusLength: 3072 },
  RSA_SIGN_PKCS1_4096_SHA256: { kind: 'rsa-pkcs1', digest: 'sha256', modulusLength: 4096 },
  RSA_SIGN_PKCS1_4096_SHA512: { kind: 'rsa-pkcs1', digest: 'sha512', modulusLength: 4096 },
  RSA_SIGN_PSS_2048_SHA256: { kind: 'rsa-pss', digest: 'sha256', modulusLength: 2048 },
  RSA_SIGN_PSS_3072_SHA256: { kind: 'rsa-pss', digest: 'sha256', modulusLength: 3072 },
  RSA_SIGN_PSS_4096_SHA256: { kind: 'rsa-pss', digest: 'sha256', modulusLength: 4096 },
  EC_SIGN_ED25519: { kind: 'ed25519', digest: null },
};

export interface KeyPair {
  privateKey: KeyObject;
  publicKey: KeyObject;
}

export async function generateFor(spec: AlgorithmSpec): Promise<KeyPair> {
  switch (spec.kind) {
    case 'ec':
      return generate('ec', { namedCurve: spec.curve! });
    case 'ed25519':
      return generate('ed25519');
    default:
      return generate('rsa', { modulusLength: spec.modulusLength! });
  }
}

const DIGEST_LENGTH = { sha256: 32, sha384: 48, sha512: 64 } as const;

export function digestLength(digest: 'sha256' | 'sha384' | 'sha512'): number {
  return DIGEST_LENGTH[digest];
}

/** Signs a digest (or, for Ed25519, the data) and returns what Cloud KMS returns: DER for ECDSA. */
export function signWith(spec: AlgorithmSpec, key: KeyPair, input: Buffer): Buffer {
  switch (spec.kind) {
    case 'ed25519':
      return sign(null, input, key.privateKey);
    case 'ec':
      return ecdsaSignDigest(spec.curve!, key.privateKey, input);
    case 'rsa-pkcs1':
      return privateEncrypt(
        { key: key.privateKey, padding: constants.RSA_PKCS1_PADDING },
        Buffer.concat([DIGEST_INFO[spec.digest!]!, input]),
      );
    case 'rsa-pss':
      return privateEncrypt(
        { key: key.privateKey, padding: constants.RSA_NO_PADDING },
        emsaPssEncode(input, spec.digest!, key.privateKey.asymmetricKeyDetails!.modulusLength! - 1),
      );
  }
}

/** DER DigestInfo prefixes (RFC 8017 §9.2 note 1). */
const DIGEST_INFO: Record<string, Buffer> = {
  sha256: Buffer.from('3031300d060960864801650304020105000420', 'hex'),
  sha384: Buffer.from('3041300d060960864801650304020205000430', 'hex'),
  sha512: Buffer.from('3051300d060960864801650304020305000440', 'hex'),
};

/** Group orders; checked against OpenSSL at load by `checkCurveOrders`. */
const ORDER: Record<string, bigint> = {
  prime256v1: 0xffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551n,
  secp384r1:
    0xffffffffffffffffffffffffffffffffffffffffffffffffc7634d81f4372ddf581a0db248b0a77aecec196accc52973n,
  secp256k1: 0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141n,
};

function ecdsaSignDigest(curve: string, privateKey: KeyObject, digest: Buffer): Buffer {
  const n = ORDER[curve]!;
  const size = (n.toString(16).length + 1) >> 1;
  const d = toBigInt(Buffer.from(privateKey.export({ format: 'jwk' }).d!, 'base64url'));
  // The digest is as long as the order for every curve here, so z is the digest itself.
  const z = toBigInt(digest.subarray(0, size)) % n;
  for (;;) {
    const k = (toBigInt(randomBytes(size + 8)) % (n - 1n)) + 1n;
    const ecdh = createECDH(curve);
    ecdh.setPrivateKey(toBuffer(k, size));
    const point = ecdh.getPublicKey(); // 04 || x || y: the point k·G
    const r = toBigInt(point.subarray(1, 1 + size)) % n;
    const s = (modInverse(k, n) * (z + r * d)) % n;
    if (r !== 0n && s !== 0n) return derSignature(r, s);
  }
}

/** EMSA-PSS-ENCODE with MGF1 over the same hash and a salt as long as the digest. */
function emsaPssEncode(mHash: Buffer, hash: string, emBits: number): Buffer {
  const hLen = mHash.length;
  const emLen = Math.ceil(emBits / 8);
  const salt = randomBytes(hLen);
  const h = createHash(hash).update(Buffer.alloc(8)).update(mHash).update(salt).digest();
  const db = Buffer.alloc(emLen - hLen - 1);
  db[db.length - hLen - 1] = 0x01;
  salt.copy(db, db.length - hLen);
  const mask = mgf1(h, db.length, hash);
  for (let i = 0; i < db.length; i++) db[i]! ^= mask[i]!;
  db[0]! &= 0xff >> (8 * emLen - emBits);
  const em = Buffer.concat([db, h, Buffer.from([0xbc])]);
  // Raw RSA takes exactly modulus-length input; emLen is one byte shorter when emBits % 8 == 0.
  return em.length * 8 < emBits + 1 ? Buffer.concat([Buffer.alloc(1), em]) : em;
}

function mgf1(seed: Buffer, length: number, hash: string): Buffer {
  const blocks: Buffer[] = [];
  for (let counter = 0; blocks.length * seed.length < length; counter++) {
    const c = Buffer.alloc(4);
    c.writeUInt32BE(counter);
    blocks.push(createHash(hash).update(seed).update(c).digest());
  }
  return Buffer.concat(blocks).subarray(0, length);
}

function derSignature(r: bigint, s: bigint): Buffer {
  const integer = (value: bigint) => {
    const hex = value.toString(16);
    let bytes = Buffer.from(hex.length % 2 ? `0${hex}` : hex, 'hex');
    if (bytes[0]! & 0x80) bytes = Buffer.concat([Buffer.alloc(1), bytes]);
    return Buffer.concat([Buffer.from([0x02, bytes.length]), bytes]);
  };
  const body = Buffer.concat([integer(r), integer(s)]);
  const length = body.length < 0x80 ? Buffer.from([body.length]) : Buffer.from([0x81, body.length]);
  return Buffer.concat([Buffer.from([0x30]), length, body]);
}

function modInverse(a: bigint, m: bigint): bigint {
  let [oldR, r] = [a % m, m];
  let [oldS, s] = [1n, 0n];
  while (r !== 0n) {
    const q = oldR / r;
    [oldR, r] = [r, oldR - q * r];
    [oldS, s] = [s, oldS - q * s];
  }
  return ((oldS % m) + m) % m;
}

function toBigInt(bytes: Buffer): bigint {
  return bytes.length === 0 ? 0n : BigInt(`0x${bytes.toString('hex')}`);
}

function toBuffer(value: bigint, size: number): Buffer {
  return Buffer.from(value.toString(16).padStart(size * 2, '0'), 'hex');
}

/** (n-1)·G = -G has the x of G: a wrong order constant fails here instead of as odd signatures. */
export function checkCurveOrders(): void {
  for (const [curve, n] of Object.entries(ORDER)) {
    const size = (n.toString(16).length + 1) >> 1;
    const x = (k: bigint) => {
      const ecdh = createECDH(curve);
      ecdh.setPrivateKey(toBuffer(k, size));
      return ecdh
        .getPublicKey()
        .subarray(1, 1 + size)
        .toString('hex');
    };
    if (x(1n) !== x(n - 1n)) throw new Error(`gcp-kms peer: wrong group order for ${curve}`);
  }
}
