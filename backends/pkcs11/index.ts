import type { Logger } from 'pino';
import { isWfidError, WfidError } from '../../src/errors.js';
import { ALGORITHMS, type JwsAlg } from '../../src/jws/algorithms.js';
import type { BackendFactory, BackendKey, KeyBackend } from '../../src/keys/backend.js';
import type { Pkcs11Config } from './config.js';
import { keyPairTemplates } from './keygen.js';
import {
  acquireModule,
  ckrName,
  isCkr,
  type Module,
  type Pkcs11Sdk,
  releaseModule,
} from './library.js';
import { signingPlan } from './mechanisms.js';
import { attributes, disabledLabel, findObjects, listKeyPairs, newKeyId } from './objects.js';
import { resolvePin } from './pin.js';
import { SessionPool } from './sessions.js';
import { type Pkcs11Uri, parsePkcs11Uri } from './uri.js';

type Session = Buffer;

/** The token refuses to change CKA_SIGN: disable by relabelling instead. */
const ATTRIBUTE_LOCKED = [
  'CKR_ATTRIBUTE_READ_ONLY',
  'CKR_ACTION_PROHIBITED',
  'CKR_ATTRIBUTE_VALUE_INVALID',
];
const HANDLE_STALE = ['CKR_OBJECT_HANDLE_INVALID', 'CKR_KEY_HANDLE_INVALID'];

export interface Pkcs11BackendOptions {
  sdk: Pkcs11Sdk;
  module: Module;
  modulePath: string;
  pool: SessionPool;
  uri: Pkcs11Uri;
  /** Alg of the key pairs createKey makes. */
  alg: JwsAlg;
  settings: Pkcs11Config;
  logger: Logger;
}

/**
 * Signing keys in an HSM (or SoftHSM2) over PKCS#11. The ring's versions are the private keys
 * labelled `object=` on the token, told apart by CKA_ID (the ref, in hex). Signatures run on
 * libuv's thread pool (pkcs11js C_SignAsync), one per pooled session, so a slow token never
 * stalls the event loop.
 */
export class Pkcs11Backend implements KeyBackend {
  readonly kind = 'pkcs11';
  /** Generates a key pair on the token, when the key lifecycle asks. */
  readonly createKey: () => Promise<BackendKey>;
  private readonly rsaAlg: 'RS256' | 'PS256';
  /** Private-key handles by ref; handles die with the sessions, so they belong to a generation. */
  private handles = new Map<string, Buffer>();
  private handlesGeneration = -1;
  private readonly reportedSkips = new Set<string>();

  constructor(private readonly options: Pkcs11BackendOptions) {
    // RSA keys do not say whether they are meant for PKCS#1 v1.5 or PSS: the config does.
    this.rsaAlg = options.alg === 'PS256' ? 'PS256' : 'RS256';
    this.createKey = () => this.generateKeyPair();
  }

  async listKeys(): Promise<BackendKey[]> {
    const { sdk, module, uri, logger } = this.options;
    // Forget cached handles: a relabelling made outside (no token check stops a cached handle)
    // takes effect with the listing that reports it. CKA_SIGN false the token enforces at once.
    this.handles.clear();
    const listing = await this.call('list key pairs', (session) =>
      listKeyPairs(sdk, module, session, uri.object, this.rsaAlg),
    );
    for (const { ref, why } of listing.skipped) {
      if (this.reportedSkips.has(ref)) continue;
      this.reportedSkips.add(ref);
      logger.warn(
        { token: uri.token, object: uri.object, ref, why },
        'ignoring a key pair the issuer cannot use',
      );
    }
    return listing.pairs.map(({ ref, alg, publicKey, createdAt, enabled }) => ({
      ref,
      alg,
      publicKey,
      createdAt,
      enabled,
    }));
  }

  async sign(key: BackendKey, signingInput: Uint8Array): Promise<Uint8Array> {
    const { module } = this.options;
    const plan = signingPlan(this.options.sdk, key.alg, signingInput);
    return this.call(
      'sign',
      async (session) => {
        let handle = this.privateKey(session, key.ref);
        try {
          module.C_SignInit(session, plan.mechanism, handle);
        } catch (err) {
          if (!isCkr(err, ...HANDLE_STALE)) throw err;
          // The object was replaced or re-read since the handle was cached: look it up again.
          this.handles.delete(key.ref);
          handle = this.privateKey(session, key.ref);
          module.C_SignInit(session, plan.mechanism, handle);
        }
        return module.C_SignAsync(session, plan.data, Buffer.alloc(signatureLength(key)));
      },
      key.ref,
    );
  }

  async disableKey(key: BackendKey): Promise<void> {
    const { sdk, module, uri, logger } = this.options;
    await this.call(
      'disable a key pair',
      (session) => {
        let handle: Buffer;
        try {
          handle = this.privateKey(session, key.ref);
        } catch (err) {
          if (isWfidError(err, 'ERR_KEY_DISABLED')) return;
          throw err;
        }
        try {
          module.C_SetAttributeValue(session, handle, [{ type: sdk.CKA_SIGN, value: false }]);
        } catch (err) {
          if (!isCkr(err, ...ATTRIBUTE_LOCKED)) throw err;
          module.C_SetAttributeValue(session, handle, [
            { type: sdk.CKA_LABEL, value: disabledLabel(uri.object) },
          ]);
        }
        this.handles.delete(key.ref);
      },
      key.ref,
    );
    logger.info(
      { token: uri.token, object: uri.object, ref: key.ref },
      'disabled a key pair (kept on the token)',
    );
  }

  async close(): Promise<void> {
    await this.options.pool.close();
    await releaseModule(this.options.modulePath);
  }

  private async generateKeyPair(): Promise<BackendKey> {
    const { sdk, module, uri, alg, settings, logger } = this.options;
    const id = newKeyId();
    const templates = keyPairTemplates(sdk, alg, uri.object, id, settings.rsa_bits);
    await this.call('generate a key pair', (session) =>
      module.C_GenerateKeyPairAsync(
        session,
        templates.mechanism,
        templates.publicKey,
        templates.privateKey,
      ),
    );
    const ref = id.toString('hex');
    const created = (await this.listKeys()).find((key) => key.ref === ref);
    if (!created)
      throw new WfidError(
        'ERR_BACKEND',
        `pkcs11: the key pair ${ref} made on token "${uri.token}" cannot be read back`,
      );
    logger.info(
      { token: uri.token, object: uri.object, ref, alg },
      'generated a key pair on the token',
    );
    return created;
  }

  /** The signing handle of a version, or why there is none (missing, or disabled by relabelling). */
  private privateKey(session: Session, ref: string): Buffer {
    const { sdk, module, uri, pool } = this.options;
    if (this.handlesGeneration !== pool.generation) {
      this.handles.clear();
      this.handlesGeneration = pool.generation;
    }
    const cached = this.handles.get(ref);
    if (cached) return cached;
    const id = Buffer.from(ref, 'hex');
    const find = (label: string) =>
      findObjects(module, session, [
        { type: sdk.CKA_CLASS, value: sdk.CKO_PRIVATE_KEY },
        { type: sdk.CKA_ID, value: id },
        { type: sdk.CKA_LABEL, value: label },
      ])[0];
    const handle = find(uri.object);
    if (!handle) {
      if (find(disabledLabel(uri.object)))
        throw new WfidError('ERR_KEY_DISABLED', `pkcs11: key pair ${ref} is disabled`);
      throw new WfidError(
        'ERR_KEY_NOT_FOUND',
        `pkcs11: no key pair ${ref} labelled "${uri.object}" on token "${uri.token}"`,
      );
    }
    // CKA_SIGN false is how versions are disabled; C_SignInit would refuse too, but this is clearer.
    if (attributes(module, session, handle, [sdk.CKA_SIGN])[0]![0] !== 1) {
      throw new WfidError(
        'ERR_KEY_DISABLED',
        `pkcs11: key pair ${ref} is disabled (CKA_SIGN is false)`,
      );
    }
    this.handles.set(ref, handle);
    return handle;
  }

  /** Runs one token operation, turning PKCS#11 errors into the backend error codes. */
  private async call<T>(
    what: string,
    operation: (session: Session) => T | Promise<T>,
    ref?: string,
  ): Promise<T> {
    try {
      return await this.options.pool.run(operation);
    } catch (err) {
      throw this.describe(err, what, ref);
    }
  }

  private describe(err: unknown, what: string, ref: string | undefined): WfidError {
    if (err instanceof WfidError) return err;
    const { token } = this.options.uri;
    const name = ckrName(err);
    if (ref !== undefined && isCkr(err, 'CKR_KEY_FUNCTION_NOT_PERMITTED')) {
      // Disabled since the handle was cached (by us elsewhere, or by the security team).
      this.handles.delete(ref);
      return new WfidError(
        'ERR_KEY_DISABLED',
        `pkcs11: key pair ${ref} may not sign (CKA_SIGN is false)`,
        { cause: err },
      );
    }
    if (
      isCkr(
        err,
        'CKR_MECHANISM_INVALID',
        'CKR_MECHANISM_PARAM_INVALID',
        'CKR_KEY_TYPE_INCONSISTENT',
        'CKR_TEMPLATE_INCONSISTENT',
      )
    ) {
      return new WfidError(
        'ERR_KEY_UNSUITABLE',
        `pkcs11: token "${token}" cannot ${what} this way: ${name}`,
        { cause: err },
      );
    }
    if (
      isCkr(
        err,
        'CKR_DEVICE_ERROR',
        'CKR_DEVICE_MEMORY',
        'CKR_DEVICE_REMOVED',
        'CKR_TOKEN_NOT_PRESENT',
        'CKR_SESSION_HANDLE_INVALID',
        'CKR_SESSION_CLOSED',
        'CKR_USER_NOT_LOGGED_IN',
        'CKR_FUNCTION_FAILED',
        'CKR_GENERAL_ERROR',
      )
    ) {
      return new WfidError(
        'ERR_BACKEND_UNAVAILABLE',
        `pkcs11: token "${token}" failed to ${what}: ${name}`,
        { cause: err, retryAfter: 5 },
      );
    }
    return new WfidError('ERR_BACKEND', `pkcs11: token "${token}" failed to ${what}: ${name}`, {
      cause: err,
    });
  }
}

function signatureLength(key: BackendKey): number {
  const spec = ALGORITHMS[key.alg];
  if (spec.coordinateSize) return spec.coordinateSize * 2;
  if (spec.keyType === 'ed25519') return 64;
  return Math.ceil((key.publicKey.asymmetricKeyDetails?.modulusLength ?? 4096) / 8);
}

export const createBackend: BackendFactory<Pkcs11Config> = async ({
  uri,
  alg,
  section: settings,
  logger,
}) => {
  const parsed = parsePkcs11Uri(uri);
  const modulePath = parsed.modulePath ?? settings.module_path;
  if (!modulePath) {
    throw new WfidError(
      'ERR_CONFIG',
      'keys: no PKCS#11 module: add module-path=… to the key URI or set pkcs11.module_path',
    );
  }
  const pin = await resolvePin(parsed, settings);
  const { sdk, module } = await acquireModule(modulePath);
  const pool = new SessionPool({
    sdk,
    module,
    token: parsed.token,
    serial: parsed.serial,
    pin,
    size: settings.sessions,
    logger,
  });
  const backend = new Pkcs11Backend({
    sdk,
    module,
    modulePath,
    pool,
    uri: parsed,
    alg,
    settings,
    logger,
  });
  try {
    await pool.open();
    await backend.listKeys();
  } catch (err) {
    await backend.close();
    throw err;
  }
  return backend;
};
