/**
 * Cloud KMS requests and the checks on their answers, per Google's data integrity guidelines
 * (https://cloud.google.com/kms/docs/data-integrity-guidelines): CRC32C on what goes out, the
 * service's confirmation that it arrived intact, CRC32C on what comes back, and the resource
 * name of the answer. Anything off means corruption or a mix-up, and the answer is refused.
 */
import { createHash, type KeyObject } from 'node:crypto';
import type { protos } from '@google-cloud/kms';
import { WfidError } from '../../src/errors.js';
import { ALGORITHMS, type JwsAlg, keyFitsAlg } from '../../src/jws/algorithms.js';
import { derToRaw } from '../../src/jws/ecdsa.js';
import { publicKeyFromSpki } from '../../src/jws/jwk.js';
import { jwsAlgOf } from './algorithms.js';
import { crc32c, int64Value } from './crc32c.js';

type SignRequest = protos.google.cloud.kms.v1.IAsymmetricSignRequest;
type SignResponse = protos.google.cloud.kms.v1.IAsymmetricSignResponse;
type PublicKeyResponse = protos.google.cloud.kms.v1.IPublicKey;

/**
 * Digest algorithms get the digest, so the signing input never leaves the process; Ed25519
 * has no prehashed form in Cloud KMS and signs the data itself.
 */
export function signRequest(name: string, alg: JwsAlg, signingInput: Uint8Array): SignRequest {
  const hash = ALGORITHMS[alg].hash;
  if (!hash) {
    const data = Buffer.from(signingInput);
    return { name, data, dataCrc32c: { value: crc32c(data) } };
  }
  const digest = createHash(hash).update(signingInput).digest();
  return { name, digest: { [hash]: digest }, digestCrc32c: { value: crc32c(digest) } };
}

/** The JOSE signature from an AsymmetricSign answer (raw r||s for ECDSA), once it checks out. */
export function jwsSignature(response: SignResponse, name: string, alg: JwsAlg): Uint8Array {
  const refuse = (what: string, cause?: unknown) =>
    new WfidError(
      'ERR_BACKEND',
      `Cloud KMS AsymmetricSign on ${name}: ${what}; signature refused`,
      {
        cause,
        retryAfter: 1,
      },
    );
  if (response.name !== name) throw refuse(`the answer is for ${response.name || 'no version'}`);
  const spec = ALGORITHMS[alg];
  if (!(spec.hash ? response.verifiedDigestCrc32c : response.verifiedDataCrc32c)) {
    throw refuse('the service did not confirm the request checksum (corrupted on the way?)');
  }
  const signature = Buffer.from((response.signature ?? new Uint8Array()) as Uint8Array);
  if (int64Value(response.signatureCrc32c) !== crc32c(signature)) {
    throw refuse('the signature does not match its CRC32C');
  }
  if (spec.keyType !== 'ec') return signature;
  try {
    return derToRaw(signature, spec.coordinateSize!);
  } catch (err) {
    throw refuse((err as Error).message, err);
  }
}

/** The public key from a GetPublicKey answer, once name, CRC32C and algorithm check out. */
export function verifiedPublicKey(answer: PublicKeyResponse, name: string, alg: JwsAlg): KeyObject {
  const refuse = (code: 'ERR_BACKEND' | 'ERR_KEY_UNSUITABLE', what: string, cause?: unknown) =>
    new WfidError(code, `Cloud KMS GetPublicKey on ${name}: ${what}`, { cause, retryAfter: 1 });
  const pem = answer.pem ?? '';
  if (answer.name !== name)
    throw refuse('ERR_BACKEND', `the answer is for ${answer.name || 'no version'}`);
  if (int64Value(answer.pemCrc32c) !== crc32c(pem))
    throw refuse('ERR_BACKEND', 'the PEM does not match its CRC32C');
  let publicKey: KeyObject;
  try {
    publicKey = publicKeyFromSpki(pem);
  } catch (err) {
    throw refuse('ERR_BACKEND', 'not a PEM public key', err);
  }
  if (jwsAlgOf(answer.algorithm as string) !== alg || !keyFitsAlg(publicKey, alg)) {
    throw refuse('ERR_KEY_UNSUITABLE', `the key does not fit ${alg}`);
  }
  return publicKey;
}
