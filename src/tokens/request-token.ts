import { hash, randomBytes, timingSafeEqual } from 'node:crypto';

/**
 * Request tokens let a running execution ask for identity tokens. Format:
 * `wfr_` + 16 chars of public token id (issue time, then random) + 43 chars of 256-bit secret
 * (base64url).
 * The id finds the stored record; only a SHA-256 of the secret is stored, and it is compared
 * in constant time. The prefix lets secret scanners recognise a leaked one.
 */
const PREFIX = 'wfr_';
const ID_LENGTH = 16;
const SECRET_LENGTH = 43;

export interface NewRequestToken {
  token: string;
  tokenId: string;
  secretHash: Buffer;
}

/**
 * A new request token. Its id starts with the time (6 bytes of milliseconds, then 6 random
 * bytes, like a UUIDv7): ids issued together share their leading characters, so the store's
 * index on them takes each group of registrations on one or two pages instead of one random
 * page per registration. With random ids that page was about a third of what a registration
 * wrote to SQLite's WAL, with its cost in CPU and fsync time. The time is no secret: the id only
 * finds the record, and the 32-byte secret, wholly random, is what proves possession.
 */
export function newRequestToken(): NewRequestToken {
  // One draw for both parts: each randomBytes() call is a syscall and a native job object.
  const random = randomBytes(44);
  random.writeUIntBE(Date.now(), 0, 6);
  const tokenId = random.toString('base64url', 0, 12);
  const secret = random.toString('base64url', 12);
  return { token: `${PREFIX}${tokenId}${secret}`, tokenId, secretHash: hashSecret(secret) };
}

export function parseRequestToken(token: string): { tokenId: string; secret: string } | null {
  if (token.length !== PREFIX.length + ID_LENGTH + SECRET_LENGTH || !token.startsWith(PREFIX))
    return null;
  if (!/^[A-Za-z0-9_-]+$/.test(token.slice(PREFIX.length))) return null;
  return {
    tokenId: token.slice(PREFIX.length, PREFIX.length + ID_LENGTH),
    secret: token.slice(PREFIX.length + ID_LENGTH),
  };
}

export function secretMatches(secret: string, storedHash: Uint8Array): boolean {
  const hash = hashSecret(secret);
  return storedHash.length === hash.length && timingSafeEqual(hash, storedHash);
}

function hashSecret(secret: string): Buffer {
  return hash('sha256', secret, 'buffer');
}
