import { mintToken } from '../client/issuer-client.js';
import { localExecutions } from '../execution/local-executions.js';
import { audienceAllowed, identityPolicyFromEnv } from '../identity/policy.js';
import { expiresAtToMs } from '../token-file/token-file-writer.js';
import { boundExecution } from './execution-binding.js';

/** A cached token is reused until this long before it expires. */
const REUSE_MARGIN_MS = 60_000;

interface CachedToken {
  value: string;
  expiresAtMs: number;
}

const CACHE = Symbol.for('workflow-identity.n8n.credential-tokens');

/**
 * A token for the execution a credential was decrypted for (see execution-binding), for
 * `audience`: minted with the request token the hooks keep for that execution in this
 * process, under the same rules as the Workflow Identity Token node (a refused identity gets
 * nothing, WFID_N8N_PROJECT_AUDIENCES applies). Reused within one execution until a minute
 * before it expires, so an HTTP Request node over many items mints once.
 */
export async function executionToken(
  credentials: Record<string, unknown>,
  audience: string,
  lifetimeS?: number,
  env: NodeJS.ProcessEnv = process.env,
): Promise<{ value: string; expiresAtMs: number; executionId: string }> {
  if (!audience) throw new Error('workflow-identity: the credential has no audience');
  const executionId = boundExecution(credentials);
  const local = localExecutions().get(executionId);
  if (local?.refusal) throw local.refusal;
  if (local?.registered && !local.requestToken) await local.registered();
  if (!local?.requestUrl || !local.requestToken) {
    throw new Error(
      `workflow-identity: execution ${executionId} is not registered with the issuer in this process${local?.registrationError ? ` (${local.registrationError})` : ''}`,
    );
  }
  // The project whose list applies, as for the node: inline code derived from a caller has no
  // project of its own and is held to its root workflow's (policyProjectId), never to '*'.
  if (!audienceAllowed(identityPolicyFromEnv(env), local.identity?.policyProjectId, audience)) {
    throw new Error(
      `workflow-identity: audience ${JSON.stringify(audience)} is not allowed for this workflow’s project (WFID_N8N_PROJECT_AUDIENCES)`,
    );
  }
  const holder = local as { [CACHE]?: Map<string, CachedToken> };
  holder[CACHE] ??= new Map();
  const key = `${audience}\n${lifetimeS ?? ''}`;
  const cached = holder[CACHE].get(key);
  if (cached && cached.expiresAtMs - REUSE_MARGIN_MS > Date.now()) {
    return { ...cached, executionId };
  }
  const minted = await mintToken({
    requestUrl: local.requestUrl,
    requestToken: local.requestToken,
    audience,
    lifetimeS,
  });
  const token = { value: minted.value, expiresAtMs: expiresAtToMs(minted.expires_at) };
  holder[CACHE].set(key, token);
  return { ...token, executionId };
}
