import type { FastifyRequest } from 'fastify';
import { describe, expect, it } from 'vitest';
import { AdminCredential } from '../../src/http/admin-auth.js';
import { newRequestToken } from '../../src/tokens/request-token.js';

const ADMIN = 'admin-'.padEnd(40, 'a');
const ENGINE = 'engine-'.padEnd(40, 'e');

const request = (authorization?: string) =>
  ({ headers: authorization === undefined ? {} : { authorization } }) as FastifyRequest;

function refusal(credential: AdminCredential, authorization?: string) {
  try {
    credential.authenticate(request(authorization));
    return undefined;
  } catch (err) {
    return (err as { code: string }).code;
  }
}

describe('admin credential', () => {
  it('lets only the admin token through; engine and request tokens are forbidden, anything else unauthorized', () => {
    const credential = new AdminCredential(ADMIN, [ENGINE]);
    expect(refusal(credential, `Bearer ${ADMIN}`)).toBeUndefined();
    expect(refusal(credential, `Bearer ${ENGINE}`)).toBe('ERR_FORBIDDEN');
    expect(refusal(credential, `Bearer ${newRequestToken().token}`)).toBe('ERR_FORBIDDEN');
    expect(refusal(credential, `Bearer ${ADMIN}x`)).toBe('ERR_UNAUTHORIZED');
    expect(refusal(credential)).toBe('ERR_UNAUTHORIZED');
    expect(refusal(new AdminCredential(undefined, [ENGINE]), `Bearer ${ADMIN}`)).toBe(
      'ERR_FORBIDDEN',
    );
  });

  it('refuses an admin token that is also an engine token', () => {
    expect(() => new AdminCredential(ADMIN, [ENGINE, ADMIN])).toThrow(
      expect.objectContaining({ code: 'ERR_CONFIG' }),
    );
  });
});
