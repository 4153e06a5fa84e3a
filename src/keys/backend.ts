import type { KeyObject } from 'node:crypto';
import type { z } from 'zod';
import type { JwsAlg } from '../jws/algorithms.js';
import type { KeyCreation } from './plan.js';

/**
 * One version of a signing key as a backend holds it. `publicKey` comes from the backend
 * (KMS GetPublicKey, Transit key listing, CKA_EC_POINT, the key file), never derived from
 * anything private the issuer holds.
 */
export interface BackendKey {
  /** Backend-native id of one version: key ARN, cryptoKeyVersion name, 'transit-key#3', CKA_ID, file name. */
  ref: string;
  alg: JwsAlg;
  publicKey: KeyObject;
  createdAt: Date;
  enabled: boolean;
}

/** The one interface every key backend implements (DESIGN.md). */
export interface KeyBackend {
  readonly kind: string;
  /**
   * True when `sign` uses the very key object whose public half `listKeys` returned (the file
   * backend). The ring then proves the pair once per key at load instead of on every token;
   * remote and hardware backends leave it unset and every signature is checked.
   */
  readonly signsLocally?: boolean;
  /** Every version this backend holds for the ring, enabled or not. */
  listKeys(): Promise<BackendKey[]>;
  /** JOSE signature bytes (raw r||s for ECDSA) over the JWS signing input. */
  sign(key: BackendKey, signingInput: Uint8Array): Promise<Uint8Array>;
  /**
   * Makes one new version, only when the key lifecycle (src/keys/lifecycle.ts) asks: a backend
   * never makes keys on its own. Absent when versions are made outside the issuer.
   */
  createKey?(): Promise<BackendKey>;
  disableKey?(key: BackendKey): Promise<void>;
  close?(): Promise<void>;
}

/**
 * How the issuer opens a backend from its key URI; each backends/<name>/index.ts exports one.
 * It connects and validates what it finds, and never creates a key.
 */
export type BackendFactory<Section = unknown> = (
  options: BackendOptions<Section>,
) => Promise<KeyBackend>;

export interface BackendOptions<Section = unknown> {
  /** The key URI from config (`file://…`, `awskms://…`, …). */
  uri: string;
  /** Algorithm for keys the backend creates. */
  alg: JwsAlg;
  /** The backend's own config section (`aws_kms`, `vault`, …), validated by its schema. */
  section: Section;
  /** `keys.create`, for what opening must check: a missing key is fine if the lifecycle may make it. */
  create: KeyCreation;
  logger: import('pino').Logger;
}

/**
 * What the issuer knows of a backend before loading it (backends/<name>/plugin.ts, listed in
 * backends/registry.ts): its key URI scheme, its config section and which of its keys are
 * secrets (read from the environment only, never from the YAML file), and how to open it. The
 * opener loads the backend's code (and SDK) only when its URI is configured.
 */
export interface BackendPlugin<Section = unknown> {
  /** Folder under backends/, and the `backend` label of logs and metrics. */
  readonly name: string;
  /** Key URI scheme with its colon: `awskms:`. */
  readonly scheme: string;
  /** Config section name and its schema; a backend without settings has none. */
  readonly section?: string;
  readonly schema?: z.ZodType<Section>;
  /** Keys of the section that hold secrets: `pin` is `pkcs11.pin`, `WFID_PKCS11_PIN`. */
  readonly secrets?: readonly string[];
  /** Environment variables the backend reads credentials from itself (`VAULT_TOKEN`). */
  readonly envSecrets?: readonly string[];
  open(options: BackendOptions<Section>): Promise<KeyBackend>;
}
