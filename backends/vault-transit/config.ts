import { z } from 'zod';
import { duration } from '../../src/config/fields.js';

/**
 * How the issuer logs in to Vault/OpenBao. Secrets never sit in this section: the token comes
 * from VAULT_TOKEN / BAO_TOKEN or `token_file`, the AppRole secret_id from `secret_id_file` or
 * WFID_VAULT_SECRET_ID, the Kubernetes service-account JWT from `jwt_file`.
 */
const vaultAuth = z
  .object({
    method: z.enum(['token', 'approle', 'kubernetes']).default('token'),
    /** Mount path of the auth method; defaults to the method's name (`approle`, `kubernetes`). */
    mount: z.string().min(1).optional(),
    /** File holding the token (a Vault Agent sink); re-read when the token nears expiry. */
    token_file: z.string().min(1).optional(),
    /** AppRole role_id (an identifier, not a secret). */
    role_id: z.string().min(1).optional(),
    secret_id_file: z.string().min(1).optional(),
    /** Kubernetes auth role. */
    role: z.string().min(1).optional(),
    jwt_file: z.string().min(1).default('/var/run/secrets/kubernetes.io/serviceaccount/token'),
  })
  .strict()
  .prefault({});

/** Config section of the vault-transit backend (no SDK import here: the schema loads for every backend). */
export const vaultConfig = z
  .object({
    /** Server URL; defaults to VAULT_ADDR, then BAO_ADDR, then http://127.0.0.1:8200. */
    address: z.url().optional(),
    /** Mount path of the Transit secrets engine. */
    mount: z
      .string()
      .regex(
        /^[A-Za-z0-9_.-]+(\/[A-Za-z0-9_.-]+)*$/,
        'a mount path such as transit or team/transit',
      )
      .default('transit'),
    /** Vault Enterprise / OpenBao namespace (X-Vault-Namespace); defaults to VAULT_NAMESPACE / BAO_NAMESPACE. */
    namespace: z.string().min(1).optional(),
    auth: vaultAuth,
    /** Transit key type for a key the issuer creates; RSA algs pick rsa-2048 unless set. */
    key_type: z
      .enum(['ecdsa-p256', 'ecdsa-p384', 'rsa-2048', 'rsa-3072', 'rsa-4096', 'ed25519'])
      .optional(),
    /** Per-request timeout; past it the call fails as ERR_BACKEND_UNAVAILABLE. */
    timeout: duration.default(10_000),
  })
  .strict()
  .prefault({});

export type VaultConfig = z.output<typeof vaultConfig>;
