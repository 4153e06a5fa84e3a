import type { Logger } from 'pino';
import { WfidError } from '../../src/errors.js';
import type { JwsAlg } from '../../src/jws/algorithms.js';
import type { BackendFactory, BackendKey, KeyBackend } from '../../src/keys/backend.js';
import { VaultLogin } from './auth.js';
import { type VaultAnswer, VaultHttp, VaultRefusal } from './client.js';
import type { VaultConfig } from './config.js';
import {
  backendKeysOf,
  keyTypeFor,
  parseRef,
  parseTransitKey,
  type TransitKey,
  type TransitKeyType,
} from './keys.js';
import { signatureFrom, signFault, signRequest } from './sign.js';

/**
 * The Vault capability a call needs, named in the error when a policy lacks it. Creating a
 * Transit key asks `update` of OpenBao 2.7, `create` of servers that run an existence check on
 * the path: both are named.
 */
type Capability = 'read' | 'create' | 'update';

/**
 * Signing keys in Vault/OpenBao Transit: one Transit key, each of its versions a BackendKey
 * (`wfid#3`). Signs digests with the version pinned; creates versions by rotating; disables by
 * raising min_encryption_version (reversible), never by trimming (which destroys versions).
 */
export class VaultTransitBackend implements KeyBackend {
  readonly kind = 'vault-transit';

  constructor(
    private readonly http: VaultHttp,
    private readonly login: VaultLogin,
    readonly mount: string,
    readonly keyName: string,
    readonly alg: JwsAlg,
    readonly keyType: TransitKeyType,
  ) {}

  /** Newest version first: the order `vault read <mount>/keys/<key>` users think in. */
  async listKeys(): Promise<BackendKey[]> {
    const key = await this.readKey();
    return key ? backendKeysOf(key, this.alg) : [];
  }

  async sign(key: BackendKey, signingInput: Uint8Array): Promise<Uint8Array> {
    const version = this.versionOf(key);
    let answer: VaultAnswer;
    try {
      answer = await this.call(
        'POST',
        `${this.mount}/sign/${this.keyName}`,
        ['update'],
        signRequest(key.alg, signingInput, version),
      );
    } catch (err) {
      throw signFault(err, key.ref);
    }
    return signatureFrom(answer, key.ref, version);
  }

  /** The first version (creating the Transit key with the configured type) or a rotation. */
  async createKey(): Promise<BackendKey> {
    if (await this.readKey()) {
      await this.call('POST', `${this.mount}/keys/${this.keyName}/rotate`, ['update'], {});
    } else {
      await this.call('POST', `${this.mount}/keys/${this.keyName}`, ['create', 'update'], {
        type: this.keyType,
      });
    }
    const key = await this.readKey();
    const newest = key && backendKeysOf(key, this.alg)[0];
    if (!newest)
      throw new WfidError(
        'ERR_BACKEND',
        `Transit key ${this.keyName} has no version after creating one`,
      );
    return newest;
  }

  /**
   * Transit signs with every version from min_encryption_version to the latest, so disabling a
   * version raises that floor above it: older versions stop signing too (they retire first in
   * any case). Lowering the floor again re-enables them; nothing is destroyed. The latest
   * version cannot be disabled alone; rotate first.
   */
  async disableKey(key: BackendKey): Promise<void> {
    const version = this.versionOf(key);
    const current = await this.readKey();
    if (!current?.versions.some((entry) => entry.version === version)) {
      throw new WfidError('ERR_KEY_NOT_FOUND', `Transit holds no key version ${key.ref}`);
    }
    if (version < current.minEncryptionVersion || version < current.minDecryptionVersion) return;
    if (version >= current.latestVersion) {
      throw new WfidError(
        'ERR_BACKEND',
        `Transit cannot disable ${key.ref}, the latest version, on its own: rotate first`,
      );
    }
    await this.call('POST', `${this.mount}/keys/${this.keyName}/config`, ['update'], {
      min_encryption_version: version + 1,
    });
  }

  async close(): Promise<void> {
    await this.login.close();
  }

  private async readKey(): Promise<TransitKey | undefined> {
    try {
      const answer = await this.call('GET', `${this.mount}/keys/${this.keyName}`, ['read']);
      return parseTransitKey(this.keyName, answer.data ?? {});
    } catch (err) {
      if (err instanceof VaultRefusal && err.status === 404) return undefined;
      if (err instanceof VaultRefusal) {
        throw new WfidError(
          'ERR_BACKEND',
          `Vault refused to read ${this.mount}/keys/${this.keyName} (${err.status}: ${err.errors.join('; ')})`,
          { cause: err },
        );
      }
      throw err;
    }
  }

  private versionOf(key: BackendKey): number {
    const parsed = parseRef(key.ref);
    if (!parsed || parsed.name !== this.keyName) {
      throw new WfidError(
        'ERR_KEY_NOT_FOUND',
        `${key.ref} is not a version of Transit key ${this.keyName}`,
      );
    }
    return parsed.version;
  }

  /** One authenticated call; a 403 becomes an error naming the policy rule that is missing. */
  private async call(
    method: 'GET' | 'POST',
    path: string,
    capabilities: readonly Capability[],
    body?: object,
  ): Promise<VaultAnswer> {
    for (let attempt = 0; ; attempt++) {
      const token = await this.login.token();
      try {
        return await this.http.request(method, path, token, body);
      } catch (err) {
        if (err instanceof VaultRefusal && isUnmounted(err)) {
          throw new WfidError(
            'ERR_BACKEND',
            `Vault has no route ${path} (${err.status}: ${err.errors.join('; ')}): is the Transit engine mounted at ${this.mount}? (bao secrets enable -path=${this.mount} transit)`,
            { cause: err },
          );
        }
        if (!(err instanceof VaultRefusal) || err.status !== 403) throw err;
        // An expired or revoked token also answers 403: one retry with a fresh token.
        if (attempt === 0 && (await this.login.afterDenial(token))) continue;
        throw new WfidError(
          'ERR_BACKEND',
          `Vault denied ${method} ${path}: the issuer's policy needs path "${path}" { capabilities = [${capabilities.map((name) => `"${name}"`).join(', ')}] }`,
          { cause: err },
        );
      }
    }
  }
}

/**
 * A 404 that no Transit key answers: the path has no engine behind it. A missing key on a
 * mounted engine is a 404 with an empty error list (readKey treats it as "not created yet").
 */
function isUnmounted(err: VaultRefusal): boolean {
  return err.status === 404 && err.errors.some((entry) => /no handler for route/i.test(entry));
}

export interface TransitOptions {
  uri: string;
  alg: JwsAlg;
  vault: VaultConfig;
  /** Where VAULT_ADDR, VAULT_TOKEN, … are read; process.env in the issuer. */
  env: NodeJS.ProcessEnv;
  logger: Logger;
}

/** Builds the backend without touching Vault (the first call logs in). */
export function openTransit({ uri, alg, vault, env, logger }: TransitOptions): VaultTransitBackend {
  const address = (
    vault.address ??
    env.VAULT_ADDR ??
    env.BAO_ADDR ??
    'http://127.0.0.1:8200'
  ).replace(/\/+$/, '');
  if (!URL.canParse(address))
    throw new WfidError('ERR_CONFIG', `vault.address: not a URL: ${address}`);
  const http = new VaultHttp(
    address,
    vault.namespace ?? env.VAULT_NAMESPACE ?? env.BAO_NAMESPACE,
    vault.timeout,
  );
  const login = new VaultLogin(http, vault.auth, env, logger);
  return new VaultTransitBackend(
    http,
    login,
    vault.mount,
    transitKeyName(uri),
    alg,
    keyTypeFor(alg, vault.key_type),
  );
}

/** `hashivault://wfid` names the Transit key `wfid`; mount and address come from config. */
export function transitKeyName(uri: string): string {
  const match = /^hashivault:\/\/([A-Za-z0-9_.-]+)\/?$/.exec(uri);
  if (!match)
    throw new WfidError(
      'ERR_CONFIG',
      `keys: expected hashivault://<transit key name>, got "${uri}"`,
    );
  return match[1]!;
}

/** Opens the Transit key and lists it once (authentication, mount, key type). */
export const createBackend: BackendFactory<VaultConfig> = async ({ uri, alg, section, logger }) => {
  // A copy: a later login (token expiry) reads the credentials as they were at start, even when
  // the issuer runs inside n8n, which removes them from its environment (secretEnvNames).
  const backend = openTransit({ uri, alg, vault: section, env: { ...process.env }, logger });
  await backend.listKeys();
  return backend;
};
