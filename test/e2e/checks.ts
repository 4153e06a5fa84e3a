/** Assertions the backend end-to-end tests share. */
import { createRemoteJWKSet, decodeProtectedHeader, jwtVerify } from 'jose';
import { expect } from 'vitest';
import { type RunningIssuer, until } from './harness.js';

/** A 503 `temporarily_unavailable` with Retry-After and no token in it; returns the body. */
export async function expectUnavailable(response: Response): Promise<Record<string, unknown>> {
  expect(response.status).toBe(503);
  expect(Number(response.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
  const body = (await response.json()) as Record<string, unknown>;
  expect(body.error).toBe('temporarily_unavailable');
  expect(body).not.toHaveProperty('value');
  return body;
}

/**
 * A version added in the backend by the security team (`addVersion`) reaches the JWKS, tokens
 * signed before keep verifying, and minting goes on.
 */
export async function expectOutsideVersionPublished(
  issuer: RunningIssuer,
  addVersion: () => Promise<unknown>,
): Promise<void> {
  const execution = await issuer.startExecution({ workflow_id: 'wf-rotate' });
  const before = (await issuer.mint(execution.request_token, 'aud')).value;
  const oldKid = decodeProtectedHeader(before).kid;
  await addVersion();
  await until(async () => (await issuer.jwksKids()).length === 2);
  expect(await issuer.jwksKids()).toContain(oldKid);
  const jwks = createRemoteJWKSet(new URL(`${issuer.url}/.well-known/jwks.json`));
  expect((await jwtVerify(before, jwks)).payload.workflow_id).toBe('wf-rotate');
  const after = (await issuer.mint(execution.request_token, 'aud')).value;
  expect((await jwtVerify(after, jwks)).payload.workflow_id).toBe('wf-rotate');
}
