import { createHash } from 'node:crypto';
import { WfidError } from '../../src/errors.js';
import { ALGORITHMS, type JwsAlg } from '../../src/jws/algorithms.js';
import { fromBase64url } from '../../src/jws/base64url.js';
import { type VaultAnswer, VaultRefusal } from './client.js';

/**
 * The body of `POST <mount>/sign/<key>` producing JOSE signature bytes: the digest (the core
 * hashes, Transit signs it as is), JWS marshaling (raw r||s, base64url), PSS with salt length =
 * hash length, and the version pinned to the one whose public key the JWKS publishes.
 */
export function signRequest(
  alg: JwsAlg,
  signingInput: Uint8Array,
  version: number,
): Record<string, unknown> {
  const spec = ALGORITHMS[alg];
  const pinned = { key_version: version, marshaling_algorithm: 'jws' };
  // Ed25519 signs the message itself; Transit has no prehashed Ed25519 (Ed25519ph is another alg).
  if (spec.hash === null) return { ...pinned, input: Buffer.from(signingInput).toString('base64') };
  const digest = {
    ...pinned,
    input: createHash(spec.hash).update(signingInput).digest('base64'),
    prehashed: true,
    hash_algorithm: spec.hash === 'sha256' ? 'sha2-256' : 'sha2-384',
  };
  // Transit's PSS default salt is "auto" (the longest that fits), which RFC 7518 §3.5 verifiers reject.
  if (alg === 'PS256') return { ...digest, signature_algorithm: 'pss', salt_length: 'hash' };
  if (alg === 'RS256') return { ...digest, signature_algorithm: 'pkcs1v15' };
  return digest;
}

/** The signature bytes from `vault:v<N>:<base64url>`, after checking that version N signed. */
export function signatureFrom(answer: VaultAnswer, ref: string, version: number): Uint8Array {
  const ignored = (answer.warnings ?? []).find((warning) =>
    /salt_length|marshaling_algorithm|prehashed/.test(warning),
  );
  if (ignored) {
    // A server too old for a parameter warns and ignores it: the signature would not be JOSE.
    throw new WfidError(
      'ERR_KEY_UNSUITABLE',
      `Vault ignored a signing parameter for ${ref} (${ignored}); upgrade Vault/OpenBao`,
    );
  }
  const text = String(answer.data?.signature ?? '');
  const match = /^vault:v(\d+):([A-Za-z0-9_-]+)$/.exec(text);
  if (!match) throw new WfidError('ERR_BACKEND', `Transit returned no signature for ${ref}`);
  if (Number(match[1]) !== version) {
    throw new WfidError(
      'ERR_BACKEND',
      `Transit signed ${ref} with version ${match[1]} instead of ${version}`,
    );
  }
  return fromBase64url(match[2]!);
}

/**
 * Transit answers a refused signature with 400 or 500 and a message; the message is the only
 * thing that tells a missing version from a disabled one.
 */
export function signFault(err: unknown, ref: string): unknown {
  if (!(err instanceof VaultRefusal)) return err;
  const detail = err.errors.join('; ');
  if (/less than the minimum (encryption|available)/i.test(detail)) {
    return new WfidError(
      'ERR_KEY_DISABLED',
      `Transit key version ${ref} is below min_encryption_version and no longer signs`,
      { cause: err },
    );
  }
  if (/not found|higher than the latest|does not exist/i.test(detail)) {
    return new WfidError('ERR_KEY_NOT_FOUND', `Transit holds no key version ${ref}`, {
      cause: err,
    });
  }
  return new WfidError(
    'ERR_BACKEND',
    `Transit refused to sign with ${ref} (${err.status}: ${detail || 'no detail'})`,
    { cause: err },
  );
}
