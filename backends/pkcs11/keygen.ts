import type { JwsAlg } from '../../src/jws/algorithms.js';
import type { Pkcs11Sdk } from './library.js';
import { CKK_EC_EDWARDS, CKM_EC_EDWARDS_KEY_PAIR_GEN, EC_PARAMS } from './objects.js';

type Template = { type: number; value?: number | boolean | string | Buffer }[];

export interface KeyPairTemplates {
  mechanism: { mechanism: number };
  publicKey: Template;
  privateKey: Template;
}

/**
 * Templates for a new version: a token key pair whose private half can sign and nothing else,
 * and can never leave the token (sensitive, not extractable; the token then also keeps
 * CKA_ALWAYS_SENSITIVE and CKA_NEVER_EXTRACTABLE true, which auditors check).
 */
export function keyPairTemplates(
  sdk: Pkcs11Sdk,
  alg: JwsAlg,
  label: string,
  id: Buffer,
  rsaBits: number,
): KeyPairTemplates {
  const common = (objectClass: number): Template => [
    { type: sdk.CKA_CLASS, value: objectClass },
    { type: sdk.CKA_TOKEN, value: true },
    { type: sdk.CKA_LABEL, value: label },
    { type: sdk.CKA_ID, value: id },
  ];
  const publicKey: Template = [
    ...common(sdk.CKO_PUBLIC_KEY),
    { type: sdk.CKA_PRIVATE, value: false },
    { type: sdk.CKA_VERIFY, value: true },
  ];
  const privateKey: Template = [
    ...common(sdk.CKO_PRIVATE_KEY),
    { type: sdk.CKA_PRIVATE, value: true },
    { type: sdk.CKA_SENSITIVE, value: true },
    { type: sdk.CKA_EXTRACTABLE, value: false },
    { type: sdk.CKA_SIGN, value: true },
    { type: sdk.CKA_DERIVE, value: false },
    { type: sdk.CKA_DECRYPT, value: false },
    { type: sdk.CKA_UNWRAP, value: false },
  ];
  if (alg === 'RS256' || alg === 'PS256') {
    publicKey.push(
      { type: sdk.CKA_KEY_TYPE, value: sdk.CKK_RSA },
      { type: sdk.CKA_MODULUS_BITS, value: rsaBits },
      { type: sdk.CKA_PUBLIC_EXPONENT, value: Buffer.from([0x01, 0x00, 0x01]) },
      { type: sdk.CKA_ENCRYPT, value: false },
      { type: sdk.CKA_WRAP, value: false },
    );
    privateKey.push({ type: sdk.CKA_KEY_TYPE, value: sdk.CKK_RSA });
    return { mechanism: { mechanism: sdk.CKM_RSA_PKCS_KEY_PAIR_GEN }, publicKey, privateKey };
  }
  const edwards = alg === 'EdDSA';
  const keyType = edwards ? CKK_EC_EDWARDS : sdk.CKK_EC;
  publicKey.push(
    { type: sdk.CKA_KEY_TYPE, value: keyType },
    { type: sdk.CKA_EC_PARAMS, value: EC_PARAMS[alg]! },
  );
  privateKey.push({ type: sdk.CKA_KEY_TYPE, value: keyType });
  return {
    mechanism: { mechanism: edwards ? CKM_EC_EDWARDS_KEY_PAIR_GEN : sdk.CKM_EC_KEY_PAIR_GEN },
    publicKey,
    privateKey,
  };
}
