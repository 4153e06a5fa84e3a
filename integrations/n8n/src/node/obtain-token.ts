import { IssuerClient, mintToken } from '../client/issuer-client.js';
import { credentialIssuer, type NodeSettings, nodeSettingsFromEnv } from '../config.js';
import { localExecutions } from '../execution/local-executions.js';
import { type N8nExecutionFacts, registrationFor } from '../execution/registration.js';
import { audienceAllowed, type IdentityPolicy, identityPolicyFromEnv } from '../identity/policy.js';
import { type ResolvedIdentity, type RunningFacts, resolveIdentity } from '../identity/resolve.js';
import { n8nWorkflowStore } from '../identity/stored-workflows.js';
import { keepExecutionTokenFile } from '../token-file/execution-token-file.js';
import { expiresAtToMs, type FileToken } from '../token-file/token-file-writer.js';

export interface TokenRequest {
  audience: string;
  lifetimeS?: number;
  /** Keep `<WFID_TOKEN_FILE_DIR>/<execution id>.jwt` fresh until the execution ends. */
  tokenFile?: boolean;
  /** Return the request URL and token too (needs WFID_N8N_REQUEST_CREDENTIALS_IN_OUTPUT=true). */
  includeRequest?: boolean;
}

export interface ObtainedToken {
  token: string;
  /** ISO 8601. */
  expiresAt: string;
  request?: { url: string; token: string };
  tokenFile?: string;
}

export interface EngineCredential {
  issuerUrl: string;
  engineToken: string;
}

/**
 * A token for the execution described by `facts` (n8n's execution context). The request
 * token comes from the hooks file when it registered this execution in this process;
 * otherwise the node registers the execution itself with the engine credential, under the
 * identity the hooks found or, without the hooks file, one found here the same way
 * (resolveIdentity), with a short deadline since nothing will end it.
 */
export async function obtainToken(
  facts: N8nExecutionFacts & RunningFacts,
  request: TokenRequest,
  credential?: EngineCredential,
  env: NodeJS.ProcessEnv = process.env,
): Promise<ObtainedToken> {
  if (!request.audience) throw new TypeError('Audience is required');
  const settings = nodeSettingsFromEnv(env);
  const policy = identityPolicyFromEnv(env);
  if (request.includeRequest && !settings.requestCredentialsInOutput) {
    throw new Error(
      'Include Request Credentials is off in this n8n: the request token would be saved in execution data (the operator enables it with WFID_N8N_REQUEST_CREDENTIALS_IN_OUTPUT=true)',
    );
  }
  if (request.tokenFile && !settings.tokenFileDir) {
    throw new Error(
      'Token File needs the operator to set WFID_TOKEN_FILE_DIR in n8n’s environment',
    );
  }
  const { identity, access } = await requestAccess(facts, credential, settings, policy);
  if (!audienceAllowed(policy, identity?.policyProjectId, request.audience)) {
    throw new Error(
      `workflow-identity: audience ${JSON.stringify(request.audience)} is not allowed for this workflow’s project (WFID_N8N_PROJECT_AUDIENCES)`,
    );
  }
  if (request.includeRequest && policy.projectAudiences) {
    // A request token mints for any audience: it would step around the allowlist.
    throw new Error(
      'Include Request Credentials is refused while WFID_N8N_PROJECT_AUDIENCES is set (a request token mints for any audience)',
    );
  }
  const mint = async (): Promise<FileToken & { expiresAt: string }> => {
    const minted = await mintToken({
      ...access,
      audience: request.audience,
      lifetimeS: request.lifetimeS,
    });
    const expiresAtMs = expiresAtToMs(minted.expires_at);
    return { value: minted.value, expiresAtMs, expiresAt: new Date(expiresAtMs).toISOString() };
  };
  const first = await mint();
  const result: ObtainedToken = { token: first.value, expiresAt: first.expiresAt };
  if (request.includeRequest)
    result.request = { url: access.requestUrl, token: access.requestToken };
  if (request.tokenFile) {
    result.tokenFile = await keepExecutionTokenFile({
      dir: settings.tokenFileDir!,
      executionId: facts.executionId,
      mint,
      first,
    });
  }
  return result;
}

async function requestAccess(
  facts: N8nExecutionFacts & RunningFacts,
  credential: EngineCredential | undefined,
  settings: NodeSettings,
  policy: IdentityPolicy,
): Promise<{ identity?: ResolvedIdentity; access: { requestUrl: string; requestToken: string } }> {
  const local = localExecutions().get(facts.executionId);
  if (local?.refusal) throw local.refusal;
  // The hooks' registration may still be under way (a slow issuer does not hold up the start),
  // or have failed (it is retried once here).
  if (local?.registered && !local.requestToken) await local.registered();
  if (local?.requestUrl && local.requestToken) {
    return {
      identity: local.identity,
      access: { requestUrl: local.requestUrl, requestToken: local.requestToken },
    };
  }
  if (local?.registrationError && !credential?.engineToken) {
    throw new Error(
      `workflow-identity: the issuer could not register this execution (${local.registrationError})`,
    );
  }
  if (!credential?.issuerUrl || !credential.engineToken) {
    throw new Error(
      'No request token for this execution: run n8n with the workflow-identity hooks file (EXTERNAL_HOOK_FILES) or select a Workflow Identity Issuer credential',
    );
  }
  // Checked before anything else reads the credential: the token goes to WFID_ISSUER_URL only.
  const issuerUrl = credentialIssuer(credential.issuerUrl, settings);
  // The hooks' identity when they ran here; else found here. The node cannot see who started
  // a sub-execution or an error workflow (n8n runs it for another execution's failure), so
  // those are refused rather than registered as the top of their own chain.
  const startedByAnother = facts.mode === 'integrated' || facts.mode === 'error';
  const identity =
    local?.identity ??
    (await resolveIdentity(facts, n8nWorkflowStore(), policy, startedByAnother ? null : undefined));
  const issuer = new IssuerClient({
    url: issuerUrl,
    engineToken: credential.engineToken,
  });
  const registered = await issuer.register(
    registrationFor(facts, identity, {
      environment: settings.environment,
      instance: settings.instance,
      maxDurationS: settings.nodeMaxDurationS,
    }),
  );
  return {
    identity,
    access: { requestUrl: registered.request_url, requestToken: registered.request_token },
  };
}
