import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

/** How long a console login lasts. */
export const SESSION_MS = 3_600_000;
export const SESSION_COOKIE = 'wfid_console';

/**
 * Console sessions are HMAC-signed, expiring cookies `<expires>.<nonce>.<signature>`; the key
 * is derived from the admin token, so every replica accepts them, a new admin token ends them
 * all, and the cookie never holds the admin token itself. Logging out revokes the nonce in
 * this process until the cookie expires.
 */
export class ConsoleSessions {
  private readonly key: Buffer;
  private readonly revoked = new Map<string, number>();

  constructor(
    adminToken: string,
    private readonly now: () => number = Date.now,
  ) {
    this.key = createHmac('sha256', adminToken).update('wfid console session v1').digest();
  }

  issue(): { value: string; maxAgeS: number } {
    const expires = Math.floor((this.now() + SESSION_MS) / 1000);
    const nonce = randomBytes(16).toString('base64url');
    return {
      value: `${expires}.${nonce}.${this.sign(expires, nonce)}`,
      maxAgeS: SESSION_MS / 1000,
    };
  }

  /** The session's nonce if the cookie is genuine, unexpired and not logged out. */
  verify(cookie: string | undefined): string | undefined {
    const [expiresText, nonce, signature, extra] = cookie?.split('.') ?? [];
    if (!expiresText || !nonce || !signature || extra !== undefined || !/^\d+$/.test(expiresText))
      return undefined;
    const expires = Number(expiresText);
    const expected = Buffer.from(this.sign(expires, nonce));
    const presented = Buffer.from(signature);
    if (presented.length !== expected.length || !timingSafeEqual(presented, expected))
      return undefined;
    if (expires * 1000 <= this.now() || this.revoked.has(nonce)) return undefined;
    return nonce;
  }

  revoke(cookie: string | undefined): void {
    const nonce = this.verify(cookie);
    if (!nonce) return;
    const now = this.now();
    for (const [known, until] of this.revoked) if (until <= now) this.revoked.delete(known);
    this.revoked.set(nonce, now + SESSION_MS);
  }

  private sign(expires: number, nonce: string): string {
    return createHmac('sha256', this.key).update(`${expires}.${nonce}`).digest('base64url');
  }
}

/** The value of one cookie from a Cookie header. */
export function cookieValue(header: string | undefined, name: string): string | undefined {
  for (const part of header?.split(';') ?? []) {
    const [key, ...value] = part.trim().split('=');
    if (key === name) return value.join('=');
  }
  return undefined;
}
