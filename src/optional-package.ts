import { WfidError } from './errors.js';

/**
 * Loads a package that only some installs need (a cloud SDK, a store driver), or explains in
 * one line which package to install. `neededBy` names who needs it: "the aws-kms backend".
 */
export async function importOptional<T>(pkg: string, neededBy: string): Promise<T> {
  try {
    return (await import(pkg)) as T;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ERR_MODULE_NOT_FOUND') {
      throw new WfidError(
        'ERR_SDK_MISSING',
        `${neededBy} needs the package ${pkg}: npm install ${pkg}`,
      );
    }
    throw err;
  }
}
