import { readFile } from 'node:fs/promises';
import type { Logger } from 'pino';
import { WfidError } from '../../src/errors.js';
import { type VaultAnswer, type VaultHttp, VaultRefusal } from './client.js';
import type { VaultConfig } from './config.js';

interface HeldToken {
  token: string;
  obtainedAt: number;
  /** 0 when the token never expires (root and periodic-less service tokens in dev). */
  ttlMs: number;
  renewable: boolean;
}

/** A token younger than this is not replaced after a 403: the denial is the policy's, not the token's. */
const FRESH_MS = 30_000;

/**
 * Holds the Vault token the backend uses and keeps it alive: past two thirds of its TTL it is
 * renewed (renew-self) or, when renewal no longer extends it, replaced by a new login (AppRole,
 * Kubernetes) or by re-reading the token file (a Vault Agent sink). Renewal happens on the way
 * to a request, so no timer runs; the ring re-lists keys every minute, which keeps an idle
 * issuer's token fresh. The token itself is never logged.
 */
export class VaultLogin {
  private held?: HeldToken;
  private pending?: Promise<HeldToken>;
  private warnedExpiry = false;

  constructor(
    private readonly http: VaultHttp,
    private readonly auth: VaultConfig['auth'],
    private readonly env: NodeJS.ProcessEnv,
    private readonly logger: Logger,
  ) {}

  /** A token valid now, renewing or logging in again first when it is due. */
  async token(): Promise<string> {
    const held = this.held;
    if (held && !(held.ttlMs > 0 && Date.now() >= held.obtainedAt + (held.ttlMs * 2) / 3))
      return held.token;
    this.pending ??= (held ? this.renew(held) : this.obtain()).finally(() => {
      this.pending = undefined;
    });
    this.held = await this.pending;
    return this.held.token;
  }

  /**
   * After a 403 with `denied`: fetch a new token if one can be had (a revoked or expired token
   * also answers 403). Returns whether retrying may help.
   */
  async afterDenial(denied: string): Promise<boolean> {
    const held = this.held;
    if (!held || held.token !== denied) return true;
    if (Date.now() - held.obtainedAt < FRESH_MS) return false;
    if (this.auth.method === 'token' && !this.auth.token_file) return false;
    this.held = undefined;
    return (await this.token()) !== denied;
  }

  /** Revokes a token this process logged in for; a token handed to it is left alone. */
  async close(): Promise<void> {
    const held = this.held;
    this.held = undefined;
    if (!held || this.auth.method === 'token') return;
    await this.http
      .request('POST', 'auth/token/revoke-self', held.token, {})
      .catch(() => undefined);
  }

  private async obtain(): Promise<HeldToken> {
    if (this.auth.method === 'token') return this.lookup(await this.staticToken());
    const mount = this.auth.mount ?? this.auth.method;
    const body =
      this.auth.method === 'approle' ? await this.appRoleLogin() : await this.kubernetesLogin();
    let answer: VaultAnswer;
    try {
      answer = await this.http.request('POST', `auth/${mount}/login`, undefined, body);
    } catch (err) {
      if (!(err instanceof VaultRefusal)) throw err;
      // Vault's login errors ("invalid role or secret ID") name no secret and help the operator.
      throw new WfidError(
        'ERR_BACKEND',
        `Vault ${this.auth.method} login at auth/${mount} was refused (${err.status}: ${err.errors.join('; ')})`,
      );
    }
    const auth = answer.auth;
    if (!auth?.client_token)
      throw new WfidError(
        'ERR_BACKEND',
        `Vault ${this.auth.method} login at auth/${mount} returned no token`,
      );
    this.logger.info(
      { method: this.auth.method, mount, ttl_s: auth.lease_duration },
      'logged in to Vault',
    );
    return {
      token: auth.client_token,
      obtainedAt: Date.now(),
      ttlMs: auth.lease_duration * 1000,
      renewable: auth.renewable,
    };
  }

  private async renew(held: HeldToken): Promise<HeldToken> {
    if (held.renewable) {
      try {
        const answer = await this.http.request('POST', 'auth/token/renew-self', held.token, {});
        const ttlMs = (answer.auth?.lease_duration ?? 0) * 1000;
        const remaining = held.obtainedAt + held.ttlMs - Date.now();
        // At max_ttl Vault still answers, with a TTL that no longer grows: time to log in anew.
        if (ttlMs > remaining + 1000) return { ...held, obtainedAt: Date.now(), ttlMs };
      } catch (err) {
        if (!(err instanceof VaultRefusal)) throw err;
        this.logger.warn({ status: err.status }, 'Vault token renewal was refused');
      }
    }
    if (this.auth.method !== 'token' || this.auth.token_file) return this.obtain();
    if (!this.warnedExpiry) {
      this.warnedExpiry = true;
      this.logger.warn(
        { expires_in_s: Math.round((held.obtainedAt + held.ttlMs - Date.now()) / 1000) },
        'the Vault token from the environment cannot be renewed and will expire; use a token file, AppRole or Kubernetes auth',
      );
    }
    return { ...held, ttlMs: 0 };
  }

  /** Learns the TTL of a token handed to us; without lookup-self rights the token is used as is. */
  private async lookup(token: string): Promise<HeldToken> {
    try {
      const answer = await this.http.request('GET', 'auth/token/lookup-self', token);
      const ttl = Number(answer.data?.ttl ?? 0);
      return {
        token,
        obtainedAt: Date.now(),
        ttlMs: ttl * 1000,
        renewable: answer.data?.renewable === true,
      };
    } catch (err) {
      if (!(err instanceof VaultRefusal)) throw err;
      this.logger.warn(
        { status: err.status },
        'cannot look up the Vault token (no default policy?); it will not be renewed',
      );
      return { token, obtainedAt: Date.now(), ttlMs: 0, renewable: false };
    }
  }

  private async staticToken(): Promise<string> {
    if (this.auth.token_file) return this.readSecret(this.auth.token_file, 'vault.auth.token_file');
    const token = this.env.VAULT_TOKEN || this.env.BAO_TOKEN;
    if (!token) {
      throw new WfidError(
        'ERR_CONFIG',
        'vault.auth.method: token needs VAULT_TOKEN or BAO_TOKEN in the environment, or vault.auth.token_file',
      );
    }
    return token;
  }

  private async appRoleLogin(): Promise<Record<string, string>> {
    if (!this.auth.role_id)
      throw new WfidError('ERR_CONFIG', 'vault.auth.role_id: required for AppRole auth');
    const secretId = this.auth.secret_id_file
      ? await this.readSecret(this.auth.secret_id_file, 'vault.auth.secret_id_file')
      : this.env.WFID_VAULT_SECRET_ID;
    // A role with bind_secret_id=false logs in with the role_id alone.
    return secretId
      ? { role_id: this.auth.role_id, secret_id: secretId }
      : { role_id: this.auth.role_id };
  }

  private async kubernetesLogin(): Promise<Record<string, string>> {
    if (!this.auth.role)
      throw new WfidError('ERR_CONFIG', 'vault.auth.role: required for Kubernetes auth');
    // Read on every login: projected service-account tokens are rotated by the kubelet.
    return {
      role: this.auth.role,
      jwt: await this.readSecret(this.auth.jwt_file, 'vault.auth.jwt_file'),
    };
  }

  private async readSecret(path: string, key: string): Promise<string> {
    try {
      const value = (await readFile(path, 'utf8')).trim();
      if (value) return value;
    } catch (err) {
      throw new WfidError(
        'ERR_CONFIG',
        `${key}: cannot read ${path} (${(err as NodeJS.ErrnoException).code ?? 'error'})`,
      );
    }
    throw new WfidError('ERR_CONFIG', `${key}: ${path} is empty`);
  }
}
