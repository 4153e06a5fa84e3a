import { WfidError } from '../errors.js';

/**
 * A workflow engine as the registry sees it: the name of its credential, which is the namespace
 * of its executions and the `engine` claim of their tokens, and the claims the credential fixes.
 * A fixed claim comes from the issuer's config, never from what the engine sends: a compromised
 * or careless engine cannot make its tokens say another environment or instance.
 */
export interface Engine {
  name: string;
  environment?: string;
  instance?: string;
}

/** The engine of a lone `WFID_ENGINE_TOKEN` (or `engine_tokens`, or the generated token). */
export const DEFAULT_ENGINE = 'default';

/** Identity fields an engine credential can fix. */
export const ENGINE_FIXED_CLAIMS = ['environment', 'instance'] as const;

/**
 * The identity an engine registers, with the claims its credential fixes filled in. A request
 * that sends another value for a fixed claim is refused, naming the field: an engine that tries
 * to make its tokens lie fails loudly rather than being quietly corrected.
 */
export function withEngineClaims<T extends { environment?: string; instance?: string }>(
  engine: Engine,
  identity: T,
): T & { engine: string } {
  const result = { ...identity, engine: engine.name };
  for (const field of ENGINE_FIXED_CLAIMS) {
    const fixed = engine[field];
    if (fixed === undefined) continue;
    if (identity[field] !== undefined && identity[field] !== fixed) {
      throw new WfidError(
        'ERR_INVALID_REQUEST',
        `${field}: fixed by the engine credential "${engine.name}"; the request sends another value`,
      );
    }
    result[field] = fixed;
  }
  return result;
}
