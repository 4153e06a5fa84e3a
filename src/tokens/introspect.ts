import { DEFAULT_ENGINE } from '../executions/engine.js';
import { effectiveStatus } from '../executions/execution.js';
import type { ExecutionRegistry } from '../executions/registry.js';
import { JWS_ALGS, type JwsAlg } from '../jws/algorithms.js';
import { createCompactVerifier } from '../jws/compact-verifier.js';
import { JwsError, type JwsFailure } from '../jws/errors.js';
import { checkValidity } from '../jws/validity.js';
import type { KeyRing } from '../keys/ring.js';
import { INTROSPECTION_MEMBERS } from './claims.js';

export type IntrospectionResult =
  | { active: false; reason: InactiveReason }
  | { active: true; claims: Record<string, unknown> };

/** Why a token is inactive; also the `result` label of wfid_introspections_total. */
export type InactiveReason =
  | 'malformed'
  | 'bad_header'
  | 'unknown_key'
  | 'bad_signature'
  | 'wrong_issuer'
  | 'expired'
  | 'not_yet_valid'
  | 'execution_ended'
  | 'execution_waiting';

const REASONS: Record<JwsFailure, InactiveReason> = {
  malformed: 'malformed',
  no_kid: 'malformed',
  claim_invalid: 'malformed',
  crit: 'bad_header',
  b64: 'bad_header',
  typ: 'bad_header',
  alg_not_allowed: 'unknown_key',
  signature_invalid: 'bad_signature',
  expired: 'expired',
  not_yet_valid: 'not_yet_valid',
};

/** The same JWS rules the verifier library applies, over every alg the issuer can sign with. */
const jws = createCompactVerifier({ algorithms: new Set(JWS_ALGS) });
/** Each key verifies exactly the alg it signs with. */
const KEY_ALGS = new Map<JwsAlg, ReadonlySet<JwsAlg>>(JWS_ALGS.map((alg) => [alg, new Set([alg])]));

/**
 * RFC 7662 introspection of our own tokens: signature against a key in the JWKS now, issuer,
 * validity window, and whether the execution is still running. Any doubt answers inactive;
 * only an unreachable store throws (the caller answers 503 rather than guess).
 *
 * The window has no leeway: the issuer's clock is the reference, and a token is inactive from
 * the second of its `exp` (RFC 7662 §2.2). Leeway for skewed clocks is a relying party's
 * business when it checks `exp` itself.
 */
export async function introspect(
  token: string,
  deps: { ring: KeyRing; registry: ExecutionRegistry; issuer: string; now?: number },
): Promise<IntrospectionResult> {
  const now = deps.now ?? Date.now();
  let payload: Record<string, unknown>;
  try {
    const read = jws.read(token);
    const key = deps.ring.publishedKey(read.header.kid);
    if (!key) return { active: false, reason: 'unknown_key' };
    jws.check(read, key.backendKey.publicKey, KEY_ALGS.get(key.backendKey.alg)!);
    payload = read.payload;
    if (payload.iss !== deps.issuer) return { active: false, reason: 'wrong_issuer' };
    checkValidity(payload, now, 0);
  } catch (err) {
    if (err instanceof JwsError) return { active: false, reason: REASONS[err.failure] };
    throw err;
  }
  if (typeof payload.execution_id !== 'string') return { active: false, reason: 'malformed' };
  // Tokens minted before engines had namespaces carry no `engine`: the default engine's.
  const engine = payload.engine ?? DEFAULT_ENGINE;
  if (typeof engine !== 'string') return { active: false, reason: 'malformed' };
  const record = await deps.registry.store.getExecution(engine, payload.execution_id);
  const status = record && effectiveStatus(record, now);
  if (status === 'waiting') return { active: false, reason: 'execution_waiting' };
  if (status !== 'running') return { active: false, reason: 'execution_ended' };
  return { active: true, claims: payload };
}

/**
 * The RFC 7662 answer. The response members are the issuer's to set: a claim of the same
 * name (config refuses such names in tokens.extra_claims, but a token minted before that
 * could carry one) is left out, so no claim can rewrite `active` or `execution_status`.
 */
export function introspectionResponse(result: IntrospectionResult): Record<string, unknown> {
  if (!result.active) return { active: false };
  const claims: Record<string, unknown> = { ...result.claims };
  for (const name of INTROSPECTION_MEMBERS) delete claims[name];
  return { active: true, ...claims, execution_status: 'running' };
}
