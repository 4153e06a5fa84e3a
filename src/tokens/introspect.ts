import { effectiveStatus } from '../executions/execution.js';
import type { ExecutionRegistry } from '../executions/registry.js';
import { parseCompact, verifySignature } from '../jws/compact.js';
import type { KeyRing } from '../keys/ring.js';

/** Tolerance for verifier clocks when judging exp and nbf. */
const CLOCK_SKEW_S = 30;

export type IntrospectionResult =
  | { active: false; reason: InactiveReason }
  | { active: true; claims: Record<string, unknown> };

export type InactiveReason =
  | 'malformed'
  | 'unknown_key'
  | 'bad_signature'
  | 'wrong_issuer'
  | 'expired'
  | 'not_yet_valid'
  | 'execution_ended';

/**
 * RFC 7662 introspection of our own tokens: signature against a key in the JWKS now, issuer,
 * validity window, and whether the execution is still running. Any doubt answers inactive;
 * only an unreachable store throws (the caller answers 503 rather than guess).
 */
export async function introspect(
  token: string,
  deps: { ring: KeyRing; registry: ExecutionRegistry; issuer: string; now?: number },
): Promise<IntrospectionResult> {
  const parsed = parseCompact(token);
  if (!parsed) return { active: false, reason: 'malformed' };
  const { header, payload } = parsed;
  const key = typeof header.kid === 'string' ? deps.ring.publishedKey(header.kid) : undefined;
  if (!key || header.alg !== key.backendKey.alg) return { active: false, reason: 'unknown_key' };
  if (
    !verifySignature(
      key.backendKey.alg,
      key.backendKey.publicKey,
      parsed.signingInput,
      parsed.signature,
    )
  ) {
    return { active: false, reason: 'bad_signature' };
  }
  if (payload.iss !== deps.issuer) return { active: false, reason: 'wrong_issuer' };
  const now = Math.floor((deps.now ?? Date.now()) / 1000);
  if (typeof payload.exp !== 'number' || payload.exp <= now - CLOCK_SKEW_S)
    return { active: false, reason: 'expired' };
  if (typeof payload.nbf === 'number' && payload.nbf > now + CLOCK_SKEW_S)
    return { active: false, reason: 'not_yet_valid' };
  if (typeof payload.execution_id !== 'string') return { active: false, reason: 'malformed' };
  const record = await deps.registry.store.getExecution(payload.execution_id);
  if (!record || effectiveStatus(record, deps.now ?? Date.now()) !== 'running') {
    return { active: false, reason: 'execution_ended' };
  }
  return { active: true, claims: payload };
}
