import { WfidError } from '../../src/errors.js';

/** What a `gcpkms://` key URI names: a CryptoKey, and optionally one pinned version of it. */
export interface KmsKeyName {
  /** `projects/P/locations/L/keyRings/R/cryptoKeys/K` */
  cryptoKey: string;
  /** `…/cryptoKeys/K/cryptoKeyVersions/V` when the URI pins a version. */
  version?: string;
}

// Resource ids as Cloud KMS allows them: letters, digits, `_` and `-`, up to 63 characters.
const ID = '[a-zA-Z0-9_-]{1,63}';
const PROJECT = '[a-z][a-z0-9.:-]{0,99}';
const URI = new RegExp(
  `^gcpkms://(projects/${PROJECT}/locations/${ID}/keyRings/${ID}/cryptoKeys/${ID})(/cryptoKeyVersions/[1-9][0-9]{0,18})?$`,
);

/**
 * `gcpkms://projects/P/locations/L/keyRings/R/cryptoKeys/K[/cryptoKeyVersions/V]`, the form
 * sigstore/cosign use. Without a version every ENABLED version of the key is used.
 */
export function parseKeyUri(uri: string): KmsKeyName {
  const match = URI.exec(uri);
  if (!match) {
    throw new WfidError(
      'ERR_CONFIG',
      `keys: not a Cloud KMS key URI: "${uri}" (expected gcpkms://projects/P/locations/L/keyRings/R/cryptoKeys/K, optionally /cryptoKeyVersions/V)`,
    );
  }
  const cryptoKey = match[1]!;
  return match[2] ? { cryptoKey, version: cryptoKey + match[2] } : { cryptoKey };
}
