import { IssuerClient, mintToken } from '../client/issuer-client.js';
import { isPermanentFailure } from '../client/issuer-error.js';
import { attachToExecution, localExecutions } from '../execution/local-executions.js';
import { type N8nExecutionFacts, registrationFor } from '../execution/registration.js';
import { expiresAtToMs, type FileToken, TokenFileWriter } from '../token-file/token-file-writer.js';

export interface TokenRequest {
  audience: string;
  lifetimeS?: number;
  /** Keep this file fresh until the execution ends; `{execution_id}` is replaced. */
  tokenFile?: string;
}

export interface ObtainedToken {
  token: string;
  /** ISO 8601. */
  expiresAt: string;
  requestUrl: string;
  requestToken: string;
  tokenFile?: string;
}

export interface EngineCredential {
  issuerUrl: string;
  engineToken: string;
}

/**
 * A token for the execution described by `facts` (taken from n8n's execution context).
 * The request token comes from the hooks file when it registered this execution in this
 * process; otherwise the node registers the execution itself with the engine credential
 * (idempotent on the issuer, so it does not matter who registers first).
 */
export async function obtainToken(
  facts: N8nExecutionFacts,
  request: TokenRequest,
  credential?: EngineCredential,
): Promise<ObtainedToken> {
  if (!request.audience) throw new TypeError('Audience is required');
  const access = await requestAccess(facts, credential);
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
  const result: ObtainedToken = { token: first.value, expiresAt: first.expiresAt, ...access };
  if (request.tokenFile) {
    result.tokenFile = request.tokenFile.replaceAll('{execution_id}', facts.executionId);
    await keepTokenFile(facts.executionId, result.tokenFile, first, mint);
  }
  return result;
}

async function requestAccess(
  facts: N8nExecutionFacts,
  credential?: EngineCredential,
): Promise<{ requestUrl: string; requestToken: string }> {
  const local = localExecutions().get(facts.executionId);
  if (local) return { requestUrl: local.requestUrl, requestToken: local.requestToken };
  if (!credential?.issuerUrl || !credential.engineToken) {
    throw new Error(
      'No request token for this execution: run n8n with the workflow-identity hooks file (EXTERNAL_HOOK_FILES) or select a Workflow Identity Issuer credential',
    );
  }
  const issuer = new IssuerClient({
    url: credential.issuerUrl,
    engineToken: credential.engineToken,
  });
  const registered = await issuer.register(registrationFor(facts));
  return { requestUrl: registered.request_url, requestToken: registered.request_token };
}

/** One writer per file in this process: a later node run for the same file takes over. */
const writers = new Map<string, TokenFileWriter>();

async function keepTokenFile(
  executionId: string,
  path: string,
  first: FileToken,
  mint: () => Promise<FileToken>,
): Promise<void> {
  await writers.get(path)?.stop({ keepFile: true });
  let pending: FileToken | undefined = first;
  const writer = new TokenFileWriter({
    path,
    // The token the node returns is also the file's first token: one mint, not two.
    mint: async () => {
      const token = pending ?? (await mint());
      pending = undefined;
      return token;
    },
    // The request token dies with the execution: then the file goes too.
    isPermanent: isPermanentFailure,
  });
  writers.set(path, writer);
  await writer.start();
  attachToExecution(executionId, {
    stop: async () => {
      if (writers.get(path) === writer) writers.delete(path);
      await writer.stop();
    },
  });
}
