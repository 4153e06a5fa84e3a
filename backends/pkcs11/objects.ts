import { createPublicKey, type KeyObject, randomBytes } from 'node:crypto';
import type { JwsAlg } from '../../src/jws/algorithms.js';
import type { Module, Pkcs11Sdk } from './library.js';

type Session = Buffer;
type Handle = Buffer;

/** PKCS#11 3.0 values pkcs11js does not name. */
export const CKK_EC_EDWARDS = 0x40;
export const CKM_EC_EDWARDS_KEY_PAIR_GEN = 0x1055;
export const CKM_EDDSA = 0x1057;

/** CKA_EC_PARAMS (DER) of the curves we sign with, and the raw public point size of each. */
const CURVES: { params: string[]; alg: JwsAlg; crv: string; pointSize: number }[] = [
  { params: ['06082a8648ce3d030107'], alg: 'ES256', crv: 'P-256', pointSize: 65 },
  { params: ['06052b81040022'], alg: 'ES384', crv: 'P-384', pointSize: 97 },
  // Ed25519 by OID (RFC 8410) or by the PrintableString "edwards25519" of PKCS#11 3.0.
  {
    params: ['06032b6570', '130c656477617264733235353139'],
    alg: 'EdDSA',
    crv: 'Ed25519',
    pointSize: 32,
  },
];

export const EC_PARAMS: Partial<Record<JwsAlg, Buffer>> = {
  ES256: Buffer.from(CURVES[0]!.params[0]!, 'hex'),
  ES384: Buffer.from(CURVES[1]!.params[0]!, 'hex'),
  EdDSA: Buffer.from(CURVES[2]!.params[0]!, 'hex'),
};

/** One key pair of the ring, as read from the token. */
export interface TokenKeyPair {
  /** CKA_ID in hex: the version's ref, the same `--id` pkcs11-tool shows. */
  ref: string;
  id: Buffer;
  alg: JwsAlg;
  publicKey: KeyObject;
  createdAt: Date;
  enabled: boolean;
}

/**
 * What a listing found besides usable pairs: private keys the ring cannot use, with why.
 * They are reported (logged) and skipped, so one odd object does not stop the issuer.
 */
export interface Listing {
  pairs: TokenKeyPair[];
  skipped: { ref: string; why: string }[];
}

/**
 * CKA_ID of keys the issuer makes: "wf", 6 bytes of creation time (ms since 1970, big-endian),
 * 8 random bytes. PKCS#11 has no creation-time attribute, and CKA_START_DATE has only a day's
 * resolution (and pkcs11js cannot read it back), so the time rides in the id: it survives
 * backups and re-imports, and every issuer instance reads the same value.
 */
export function newKeyId(now = Date.now()): Buffer {
  const id = Buffer.alloc(16);
  id.write('wf', 0, 'ascii');
  id.writeUIntBE(now, 2, 6);
  randomBytes(8).copy(id, 8);
  return id;
}

/** Creation time from an issuer-made CKA_ID; the epoch for others (oldest, never preferred). */
export function createdAtOf(id: Buffer): Date {
  if (id.length === 16 && id.toString('ascii', 0, 2) === 'wf') return new Date(id.readUIntBE(2, 6));
  return new Date(0);
}

export function findObjects(
  module: Module,
  session: Session,
  template: { type: number; value?: unknown }[],
): Handle[] {
  module.C_FindObjectsInit(session, template as Parameters<Module['C_FindObjectsInit']>[1]);
  try {
    const found: Handle[] = [];
    for (
      let batch = module.C_FindObjects(session, 64);
      batch.length > 0;
      batch = module.C_FindObjects(session, 64)
    ) {
      found.push(...batch);
    }
    return found;
  } finally {
    module.C_FindObjectsFinal(session);
  }
}

/**
 * Every private key labelled `label` (or `label.disabled`, see disableKey) with its public key
 * from the public-key object of the same CKA_ID (RSA: or the private key's own modulus).
 */
export function listKeyPairs(
  sdk: Pkcs11Sdk,
  module: Module,
  session: Session,
  label: string,
  rsaAlg: 'RS256' | 'PS256',
): Listing {
  const listing: Listing = { pairs: [], skipped: [] };
  for (const [objectLabel, labelled] of [
    [label, true],
    [disabledLabel(label), false],
  ] as const) {
    const handles = findObjects(module, session, [
      { type: sdk.CKA_CLASS, value: sdk.CKO_PRIVATE_KEY },
      { type: sdk.CKA_LABEL, value: objectLabel },
    ]);
    for (const handle of handles) {
      const [id, keyType, canSign] = attributes(module, session, handle, [
        sdk.CKA_ID,
        sdk.CKA_KEY_TYPE,
        sdk.CKA_SIGN,
      ]);
      const ref = id!.toString('hex');
      const publicHandle = findObjects(module, session, [
        { type: sdk.CKA_CLASS, value: sdk.CKO_PUBLIC_KEY },
        { type: sdk.CKA_ID, value: id },
      ])[0];
      const read = readPublicKey(
        sdk,
        module,
        session,
        ulong(keyType!),
        handle,
        publicHandle,
        rsaAlg,
      );
      if ('why' in read) {
        listing.skipped.push({ ref, why: read.why });
        continue;
      }
      listing.pairs.push({
        ref,
        id: id!,
        ...read,
        createdAt: createdAtOf(id!),
        enabled: labelled && canSign![0] === 1,
      });
    }
  }
  return listing;
}

type PublicRead = { alg: JwsAlg; publicKey: KeyObject } | { why: string };

function readPublicKey(
  sdk: Pkcs11Sdk,
  module: Module,
  session: Session,
  keyType: number,
  privateHandle: Handle,
  publicHandle: Handle | undefined,
  rsaAlg: 'RS256' | 'PS256',
): PublicRead {
  if (keyType === sdk.CKK_RSA) {
    // RSA private keys carry the public modulus and exponent themselves.
    const [n, e] = attributes(module, session, publicHandle ?? privateHandle, [
      sdk.CKA_MODULUS,
      sdk.CKA_PUBLIC_EXPONENT,
    ]);
    if (n!.length * 8 < 2048)
      return { why: `RSA modulus of ${n!.length * 8} bits (2048 at least)` };
    const publicKey = createPublicKey({
      key: { kty: 'RSA', n: n!.toString('base64url'), e: e!.toString('base64url') },
      format: 'jwk',
    });
    return { alg: rsaAlg, publicKey };
  }
  if (keyType === sdk.CKK_EC || keyType === CKK_EC_EDWARDS) {
    if (!publicHandle)
      return { why: 'no public-key object with the same CKA_ID (CKA_EC_POINT is on it)' };
    const [params, point] = attributes(module, session, publicHandle, [
      sdk.CKA_EC_PARAMS,
      sdk.CKA_EC_POINT,
    ]);
    const curve = CURVES.find((candidate) => candidate.params.includes(params!.toString('hex')));
    if (!curve) return { why: `unsupported curve (CKA_EC_PARAMS ${params!.toString('hex')})` };
    const raw = unwrapPoint(point!, curve.pointSize);
    if (!raw) return { why: 'malformed CKA_EC_POINT' };
    const publicKey =
      curve.alg === 'EdDSA'
        ? createPublicKey({
            key: { kty: 'OKP', crv: curve.crv, x: raw.toString('base64url') },
            format: 'jwk',
          })
        : createPublicKey({
            key: {
              kty: 'EC',
              crv: curve.crv,
              x: raw.subarray(1, 1 + (raw.length - 1) / 2).toString('base64url'),
              y: raw.subarray(1 + (raw.length - 1) / 2).toString('base64url'),
            },
            format: 'jwk',
          });
    return { alg: curve.alg, publicKey };
  }
  return { why: `unsupported key type 0x${keyType.toString(16)}` };
}

/**
 * CKA_EC_POINT is a DER OCTET STRING around the point (PKCS#11 2.40); a few modules return the
 * bare point. The expected size tells them apart, since an uncompressed point also starts 0x04.
 */
function unwrapPoint(value: Buffer, pointSize: number): Buffer | null {
  if (value.length === pointSize && (pointSize === 32 || value[0] === 0x04)) return value;
  const header = pointSize < 0x80 ? 2 : 3;
  if (value.length !== header + pointSize || value[0] !== 0x04) return null;
  const length = header === 2 ? value[1] : value[2];
  if (length !== pointSize || (header === 3 && value[1] !== 0x81)) return null;
  const point = value.subarray(header);
  return pointSize === 32 || point[0] === 0x04 ? point : null;
}

export function disabledLabel(label: string): string {
  return `${label}.disabled`;
}

export function attributes(
  module: Module,
  session: Session,
  handle: Handle,
  types: number[],
): Buffer[] {
  return module
    .C_GetAttributeValue(
      session,
      handle,
      types.map((type) => ({ type })),
    )
    .map((attribute) => attribute.value);
}

/** A CK_ULONG attribute in the host's byte order (8 bytes on 64-bit Linux, 4 on Windows). */
function ulong(value: Buffer): number {
  return value.length >= 8 ? Number(value.readBigUInt64LE(0)) : value.readUInt32LE(0);
}
