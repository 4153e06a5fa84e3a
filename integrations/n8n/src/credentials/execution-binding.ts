import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

/**
 * Ties a decrypted credential to the execution n8n decrypted it for. The hooks wrap n8n's
 * CredentialsHelper.getDecrypted and add, for the credential types below, the execution id
 * from n8n's own execution data (`additionalData.executionId`, not from anything stored in
 * the credential) and an HMAC of it under a key that lives only in this process's memory.
 * A credential whose stored data names an execution (someone saved `executionId: "57"`
 * through the API) therefore carries no valid proof, and gets no token.
 */
export const EXECUTION_BOUND_CREDENTIALS = ['workflowIdentityBearer', 'workflowIdentityAws'];

const KEY = Symbol.for('workflow-identity.n8n.execution-binding-key');

function bindingKey(): Buffer {
  const holder = globalThis as { [KEY]?: Buffer };
  holder[KEY] ??= randomBytes(32);
  return holder[KEY];
}

function proof(executionId: string): string {
  return createHmac('sha256', bindingKey()).update(executionId).digest('base64url');
}

/** The fields the hooks add to a decrypted execution-bound credential. */
export function executionBinding(executionId: string): Record<string, string> {
  return { executionId, executionProof: proof(executionId) };
}

/** The execution a decrypted credential was bound to by the hooks; throws if it was not. */
export function boundExecution(credentials: Record<string, unknown>): string {
  const { executionId, executionProof } = credentials;
  if (typeof executionId === 'string' && typeof executionProof === 'string') {
    const expected = Buffer.from(proof(executionId));
    const given = Buffer.from(executionProof);
    if (given.length === expected.length && timingSafeEqual(given, expected)) return executionId;
  }
  throw new Error(
    'workflow-identity: this credential works only in an n8n running the workflow-identity hooks file (EXTERNAL_HOOK_FILES), in the execution that uses it',
  );
}
