import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyRequest } from 'fastify';
import { WfidError } from '../errors.js';

export function bearerToken(request: FastifyRequest): string | undefined {
  const header = request.headers.authorization;
  if (typeof header !== 'string') return undefined;
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
  return match?.[1];
}

/**
 * Checks the engine credential against every configured engine token. Tokens are compared as
 * SHA-256 digests in constant time, so neither content nor length leaks through timing.
 */
export function engineAuthenticator(tokens: readonly string[]): (request: FastifyRequest) => void {
  const digests = tokens.map(digest);
  return (request) => {
    const presented = bearerToken(request);
    if (presented === undefined)
      throw new WfidError('ERR_UNAUTHORIZED', 'engine token required (Authorization: Bearer)');
    const candidate = digest(presented);
    let matched = false;
    for (const known of digests) matched = timingSafeEqual(candidate, known) || matched;
    if (!matched) throw new WfidError('ERR_UNAUTHORIZED', 'the engine token is not valid');
  };
}

function digest(token: string): Buffer {
  return createHash('sha256').update(token).digest();
}
