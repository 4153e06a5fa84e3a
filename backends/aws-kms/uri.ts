import { WfidError } from '../../src/errors.js';

/** What an `awskms://` key URI names (sigstore's convention). */
export interface AwsKmsUri {
  /** Key id, key ARN, alias name (`alias/wfid`) or alias ARN, as DescribeKey and Sign accept it. */
  keyId: string;
  /** `alias/<name>` when the URI names an alias: the pointer the issuer moves to a new key. */
  alias?: string;
  /** From `awskms://host:port/…`: plain http for a loopback host (LocalStack), https otherwise. */
  endpoint?: string;
  /** The region inside an ARN, used when config names none. */
  region?: string;
}

const LOOPBACK = new Set(['127.0.0.1', 'localhost', '[::1]']);
const ALIAS = /^alias\/[A-Za-z0-9/_-]{1,250}$/;
const KEY_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$|^mrk-[0-9a-f]{32}$/;
const ARN = /^arn:aws[a-z-]*:kms:([a-z0-9-]+):\d{12}:(key\/.+|alias\/.+)$/;

/**
 * Parses `awskms:///alias/wfid`, `awskms:///arn:aws:kms:eu-west-1:111122223333:key/…`,
 * `awskms:///1234abcd-…` or `awskms://127.0.0.1:4566/alias/wfid`.
 *
 * @example
 * parseAwsKmsUri('awskms://127.0.0.1:4566/alias/wfid');
 * // { keyId: 'alias/wfid', alias: 'alias/wfid', endpoint: 'http://127.0.0.1:4566' }
 */
export function parseAwsKmsUri(uri: string): AwsKmsUri {
  const fail = (why: string): never => {
    throw new WfidError(
      'ERR_CONFIG',
      `keys: ${why} in "${uri}" (expected awskms:///alias/<name>, awskms:///<key ARN> or awskms://host:port/alias/<name>)`,
    );
  };
  if (!uri.startsWith('awskms://')) fail('not an awskms:// URI');
  const rest = uri.slice('awskms://'.length);
  const slash = rest.indexOf('/');
  if (slash < 0) fail('no key after the host');
  const host = rest.slice(0, slash);
  const keyId = decodeURIComponent(rest.slice(slash + 1));
  if (host !== '' && !/^(\[[0-9a-f:]+\]|[A-Za-z0-9.-]+)(:\d{1,5})?$/.test(host)) fail('bad host');

  const arn = ARN.exec(keyId);
  if (!arn && !ALIAS.test(keyId) && !KEY_ID.test(keyId)) fail('not a key id, key ARN or alias');
  const alias = arn
    ? arn[2]!.startsWith('alias/')
      ? arn[2]
      : undefined
    : keyId.startsWith('alias/')
      ? keyId
      : undefined;
  const hostname = host.replace(/:\d+$/, '');
  return {
    keyId,
    alias,
    endpoint: host === '' ? undefined : `${LOOPBACK.has(hostname) ? 'http' : 'https'}://${host}`,
    region: arn?.[1],
  };
}
