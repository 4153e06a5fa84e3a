import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load.js';
import { introspectionResponse } from '../../src/tokens/introspect.js';

describe('reserved names: tokens.extra_claims', () => {
  it('refuses an RFC 7662 response member or a registered claim, naming the key and the source', () => {
    for (const name of [
      'active',
      'execution_status',
      'scope',
      'client_id',
      'username',
      'token_type',
      'exp',
      'iss',
      'jti',
      'workflow_id',
    ]) {
      expect(() => loadConfig({ env: { WFID_TOKENS_EXTRA_CLAIMS: `team,${name}` } }), name).toThrow(
        new RegExp(
          `tokens\\.extra_claims\\.1 \\(WFID_TOKENS_EXTRA_CLAIMS\\): "${name}" is reserved`,
        ),
      );
    }
    expect(
      loadConfig({ env: { WFID_TOKENS_EXTRA_CLAIMS: 'team,cost_center' } }).tokens.extra_claims,
    ).toEqual(['team', 'cost_center']);
  });
});

describe('reserved names: the introspection answer', () => {
  it('keeps active and execution_status the issuer’s, whatever the claims say', () => {
    const answer = introspectionResponse({
      active: true,
      claims: {
        iss: 'https://id.example.com',
        exp: 2e9,
        execution_id: 'e-1',
        active: false,
        execution_status: 'success',
        scope: 'admin',
        client_id: 'someone',
        username: 'root',
        token_type: 'Bearer',
        team: 'data',
      },
    });
    expect(answer).toEqual({
      active: true,
      iss: 'https://id.example.com',
      exp: 2e9,
      execution_id: 'e-1',
      team: 'data',
      execution_status: 'running',
    });
    expect(Object.keys(answer)[0]).toBe('active');
    expect(introspectionResponse({ active: false, reason: 'expired' })).toEqual({ active: false });
  });
});
