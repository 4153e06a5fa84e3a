import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { WfidError } from '../../src/errors.js';
import type { Pkcs11Config } from './config.js';
import type { Pkcs11Uri } from './uri.js';

/**
 * The user PIN, from (in order) a `pin-value` the config allows, the URI's `pin-source` file,
 * or `pkcs11.pin` (WFID_PKCS11_PIN). Messages name where the PIN was looked for, never the PIN.
 */
export async function resolvePin(uri: Pkcs11Uri, config: Pkcs11Config): Promise<string> {
  if (uri.pinValue !== undefined) {
    if (!config.allow_pin_in_uri) {
      throw new WfidError(
        'ERR_CONFIG',
        'keys: the pkcs11 key URI carries pin-value; put the PIN in a file (pin-source=file:/path) or WFID_PKCS11_PIN, or set pkcs11.allow_pin_in_uri: true',
      );
    }
    return uri.pinValue;
  }
  if (uri.pinSource !== undefined) return readPinFile(uri.pinSource);
  if (config.pin !== undefined) return config.pin;
  throw new WfidError(
    'ERR_CONFIG',
    `keys: no PIN for token "${uri.token}": add pin-source=file:/path to the key URI or set WFID_PKCS11_PIN`,
  );
}

async function readPinFile(source: string): Promise<string> {
  // file:/run/secrets/pin and file:///run/secrets/pin are both common spellings.
  const path = source.startsWith('file://') ? fileURLToPath(source) : source.slice('file:'.length);
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? 'error';
    throw new WfidError(
      'ERR_CONFIG',
      `keys: cannot read the PIN file ${path} (pin-source): ${code}`,
    );
  }
  // Secret files usually end with a newline that is not part of the PIN.
  const pin = text.replace(/\r?\n$/, '');
  if (pin === '')
    throw new WfidError('ERR_CONFIG', `keys: the PIN file ${path} (pin-source) is empty`);
  return pin;
}
