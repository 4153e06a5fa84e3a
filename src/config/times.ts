import type { Config } from './schema.js';

/*
 * The issuer's clock allowances and the durations derived from config, each named once. The
 * one configurable skew is `rotation.clock_skew` (how far verifiers' and replicas' clocks may
 * differ); the constants below are the fixed ones.
 */

/** A minted token's `nbf` lies this many seconds before its `iat`: a verifier whose clock runs a little behind accepts a fresh token. */
export const NOT_BEFORE_SKEW_S = 5;

/** The verifier library's default leeway on `exp`, `nbf` and `iat` (its `clockTolerance`). */
export const VERIFIER_CLOCK_TOLERANCE_S = 5;

/**
 * How long after a key stops signing, or an execution ends, a token it signed or names may
 * still be presented and accepted: the longest token lifetime plus the clock skew. Retiring keys
 * stay in the JWKS, and ended executions stay known to introspection, this long.
 */
export function tokenAfterlifeMs(config: Pick<Config, 'tokens' | 'rotation'>): number {
  return config.tokens.max_lifetime + config.rotation.clock_skew;
}

/** The key lifecycle's lead and tail times (src/keys/plan.ts PlanTimes). */
export function keyTimes(config: Pick<Config, 'tokens' | 'rotation'>): {
  prepublishMs: number;
  retainMs: number;
} {
  return { prepublishMs: config.rotation.prepublish, retainMs: tokenAfterlifeMs(config) };
}
