import { timingSafeEqual } from 'node:crypto';
import type { FastifyRequest } from 'fastify';
import { WfidError } from '../errors.js';
import { parseRequestToken } from '../tokens/request-token.js';
import { bearerToken, digest } from './auth.js';

/**
 * The admin credential (WFID_ADMIN_TOKEN) reads the audit trail and the console; nothing else
 * does. Compared as SHA-256 digests in constant time, like engine tokens. An engine token or a
 * request token presented here is recognised and refused with 403, so a misconfigured client
 * learns why; anything else is 401.
 */
export class AdminCredential {
  private readonly admin?: Buffer;
  private readonly engines: Buffer[];

  constructor(adminToken: string | undefined, engineTokens: readonly string[]) {
    this.admin = adminToken === undefined ? undefined : digest(adminToken);
    this.engines = engineTokens.map(digest);
    // Separate credentials: an engine must never hold the key to the audit trail.
    if (this.admin && this.engines.some((engine) => engine.equals(this.admin!)))
      throw new WfidError('ERR_CONFIG', 'WFID_ADMIN_TOKEN: must differ from every engine token');
  }

  get configured(): boolean {
    return this.admin !== undefined;
  }

  /** Whether `presented` is the admin token (constant time). */
  matches(presented: string): boolean {
    return this.admin !== undefined && timingSafeEqual(digest(presented), this.admin);
  }

  /** Throws 401/403 unless the request carries the admin token as a Bearer credential. */
  authenticate(request: FastifyRequest): void {
    if (!this.configured)
      throw new WfidError('ERR_FORBIDDEN', 'no admin credential is configured (WFID_ADMIN_TOKEN)');
    const presented = bearerToken(request);
    if (presented === undefined)
      throw new WfidError('ERR_UNAUTHORIZED', 'admin token required (Authorization: Bearer)');
    if (this.matches(presented)) return;
    const candidate = digest(presented);
    let engine = false;
    for (const known of this.engines) engine = timingSafeEqual(candidate, known) || engine;
    if (engine) throw new WfidError('ERR_FORBIDDEN', 'an engine token cannot read the audit trail');
    if (parseRequestToken(presented))
      throw new WfidError('ERR_FORBIDDEN', 'a request token cannot read the audit trail');
    throw new WfidError('ERR_UNAUTHORIZED', 'the admin token is not valid');
  }
}
