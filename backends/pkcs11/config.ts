import { z } from 'zod';
import { flag } from '../../src/config/fields.js';

/**
 * Config section of the pkcs11 backend (no SDK import here: the schema loads for every backend).
 * Where the key lives (token, object label, module) is in the key URI; this section holds what
 * a URI should not: the PIN and how the issuer uses the token.
 */
export const pkcs11Config = z
  .object({
    /** PKCS#11 module used when the key URI has no `module-path` attribute. */
    module_path: z.string().min(1).optional(),
    /**
     * The user PIN, from WFID_PKCS11_PIN only (never a YAML literal). A `pin-source=file:…`
     * attribute in the key URI wins over it.
     */
    pin: z.string().min(1).optional(),
    /** Accept `pin-value=` in the key URI (RFC 7512 allows it; it puts the PIN in config). */
    allow_pin_in_uri: flag.default(false),
    /** Deprecated: `keys.create` (true reads as `always`, false as `never`). */
    create_keys: flag.optional(),
    /** Sessions kept open; each runs one signature at a time on the libuv thread pool. */
    sessions: z.coerce.number().int().min(1).max(64).default(4),
    /** Modulus size of RSA key pairs the issuer generates. */
    rsa_bits: z.coerce.number().int().min(2048).max(8192).default(2048),
  })
  .strict()
  .prefault({});

export type Pkcs11Config = z.output<typeof pkcs11Config>;
