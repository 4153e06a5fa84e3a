import { WfidError } from '../../src/errors.js';

/** What a `pkcs11:` key URI (RFC 7512) selects. */
export interface Pkcs11Uri {
  /** Token label (CKA_LABEL of the token, `token=`). */
  token: string;
  /** Label shared by every key pair of the ring (`object=`); versions differ by CKA_ID. */
  object: string;
  /** Token serial number, to tell apart tokens with the same label. */
  serial?: string;
  modulePath?: string;
  /** `file:/path` of a file holding the user PIN. */
  pinSource?: string;
  /** A literal PIN; accepted only with `pkcs11.allow_pin_in_uri`. */
  pinValue?: string;
}

const PATH_ATTRIBUTES = new Set(['token', 'object', 'serial', 'type']);
const QUERY_ATTRIBUTES = new Set(['module-path', 'pin-source', 'pin-value']);

/**
 * Parses `pkcs11:token=wfid;object=wfid-signing?module-path=…&pin-source=file:…`.
 * Attributes the backend cannot honour are refused rather than ignored: a URI that seems to
 * narrow the selection (`id=`, `slot-id=`) but does not would sign with the wrong key.
 * Error messages never repeat the URI itself, which may carry a PIN.
 */
export function parsePkcs11Uri(uri: string): Pkcs11Uri {
  if (!uri.startsWith('pkcs11:')) throw uriError('not a pkcs11: URI');
  const rest = uri.slice('pkcs11:'.length);
  const queryAt = rest.indexOf('?');
  const path = queryAt === -1 ? rest : rest.slice(0, queryAt);
  const query = queryAt === -1 ? '' : rest.slice(queryAt + 1);
  const attributes = new Map<string, string>();
  collect(path, ';', PATH_ATTRIBUTES, attributes);
  collect(query, '&', QUERY_ATTRIBUTES, attributes);

  const type = attributes.get('type');
  if (type !== undefined && type !== 'private') {
    throw uriError(`type=${type}: the key URI names the private key (type=private or no type)`);
  }
  const token = attributes.get('token');
  const object = attributes.get('object');
  if (!token) throw uriError('missing token= (the token label)');
  if (!object) throw uriError('missing object= (the label of the signing key pairs)');
  const pinSource = attributes.get('pin-source');
  if (pinSource !== undefined && !pinSource.startsWith('file:')) {
    throw uriError('pin-source must be a file: URI (pin-source=file:/run/secrets/hsm-pin)');
  }
  return {
    token,
    object,
    serial: attributes.get('serial'),
    modulePath: attributes.get('module-path'),
    pinSource,
    pinValue: attributes.get('pin-value'),
  };
}

function collect(
  part: string,
  separator: string,
  allowed: Set<string>,
  into: Map<string, string>,
): void {
  if (part === '') return;
  for (const pair of part.split(separator)) {
    const equals = pair.indexOf('=');
    const name = equals === -1 ? pair : pair.slice(0, equals);
    if (equals === -1) throw uriError(`attribute "${name}" has no value`);
    if (!allowed.has(name)) {
      throw uriError(`attribute "${name}" is not supported here (use ${[...allowed].join(', ')})`);
    }
    if (into.has(name)) throw uriError(`attribute "${name}" given twice`);
    let value: string;
    try {
      value = decodeURIComponent(pair.slice(equals + 1));
    } catch {
      throw uriError(`attribute "${name}" has a bad percent-encoding`);
    }
    into.set(name, value);
  }
}

function uriError(why: string): WfidError {
  return new WfidError('ERR_CONFIG', `keys: pkcs11 key URI: ${why}`);
}
