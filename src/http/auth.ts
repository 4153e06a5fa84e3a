import { hash, timingSafeEqual } from 'node:crypto';
import type { FastifyRequest } from 'fastify';
import { WfidError } from '../errors.js';
import type { Engine } from '../executions/engine.js';
import type { EngineCredential } from './engine-tokens.js';

export function bearerToken(request: FastifyRequest): string | undefined {
  const header = request.headers.authorization;
  if (typeof header !== 'string') return undefined;
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
  return match?.[1];
}

/**
 * Finds the engine whose credential the request presents. Tokens are compared as SHA-256
 * digests in constant time, every one of them on every request, so neither content, length nor
 * which engine matched leaks through timing.
 */
export function engineAuthenticator(
  credentials: readonly EngineCredential[],
): (request: FastifyRequest) => Engine {
  const known = credentials.map(({ engine, token }) => ({ engine, digest: digest(token) }));
  return (request) => {
    const presented = bearerToken(request);
    if (presented === undefined)
      throw new WfidError('ERR_UNAUTHORIZED', 'engine token required (Authorization: Bearer)');
    const candidate = digest(presented);
    let matched: Engine | undefined;
    for (const { engine, digest } of known) {
      if (timingSafeEqual(candidate, digest)) matched = engine;
    }
    if (!matched) throw new WfidError('ERR_UNAUTHORIZED', 'the engine token is not valid');
    return matched;
  };
}

/**
 * SHA-256 of a presented credential, for constant-time comparison. One-shot `hash()`: a
 * `createHash()` object per request leaves a native handle for every young-generation GC to
 * finalise, which lengthened every scavenge pause under load.
 */
export function digest(token: string): Buffer {
  return hash('sha256', token, 'buffer');
}
