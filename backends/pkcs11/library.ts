import { existsSync } from 'node:fs';
import type * as Pkcs11 from 'pkcs11js';
import { WfidError } from '../../src/errors.js';
import { importOptional } from '../../src/optional-package.js';

export type Pkcs11Sdk = typeof Pkcs11;
export type Module = Pkcs11.PKCS11;

interface Loaded {
  sdk: Pkcs11Sdk;
  module: Module;
  users: number;
  /** False when someone else in the process initialised the module: they finalise it too. */
  initialised: boolean;
}

/**
 * A PKCS#11 module is initialised once per process (a second C_Initialize fails, and one
 * C_Finalize ends every caller's sessions), so backends in one process share it, counted.
 */
const loaded = new Map<string, Promise<Loaded>>();

export async function acquireModule(path: string): Promise<{ sdk: Pkcs11Sdk; module: Module }> {
  let entry = loaded.get(path);
  if (!entry) {
    entry = load(path);
    loaded.set(path, entry);
    entry.catch(() => loaded.delete(path));
  }
  const ready = await entry;
  ready.users++;
  return ready;
}

export async function releaseModule(path: string): Promise<void> {
  const entry = loaded.get(path);
  if (!entry) return;
  const ready = await entry;
  if (--ready.users > 0) return;
  loaded.delete(path);
  if (!ready.initialised) return;
  try {
    ready.module.C_Finalize();
  } finally {
    ready.module.close();
  }
}

async function load(path: string): Promise<Loaded> {
  const imported = await importOptional<Pkcs11Sdk & { default?: Pkcs11Sdk }>(
    'pkcs11js',
    'the pkcs11 backend',
  );
  const sdk = imported.default ?? imported;
  if (!existsSync(path)) {
    throw new WfidError(
      'ERR_CONFIG',
      `keys: the PKCS#11 module ${path} does not exist (module-path)`,
    );
  }
  const module = new sdk.PKCS11();
  try {
    module.load(path);
  } catch (err) {
    throw new WfidError(
      'ERR_CONFIG',
      `keys: ${path} is not a loadable PKCS#11 module (module-path)`,
      {
        cause: err,
      },
    );
  }
  try {
    // OS locking: signatures run on libuv's thread pool, several at a time.
    module.C_Initialize({ flags: sdk.CKF_OS_LOCKING_OK });
    return { sdk, module, users: 0, initialised: true };
  } catch (err) {
    // Another PKCS#11 user in this process (not through this registry) got there first.
    if (isCkr(err, 'CKR_CRYPTOKI_ALREADY_INITIALIZED'))
      return { sdk, module, users: 0, initialised: false };
    module.close();
    throw new WfidError(
      'ERR_CONFIG',
      `keys: the PKCS#11 module ${path} failed to initialise: ${ckrName(err)}`,
      {
        cause: err,
      },
    );
  }
}

/** The CKR_… name of a pkcs11js error (its message is exactly that name), or its message. */
export function ckrName(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

export function isCkr(err: unknown, ...names: string[]): boolean {
  return err instanceof Error && names.includes(err.message);
}
