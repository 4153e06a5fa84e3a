/** Library entry: the pieces the hooks file and the node are built from, for custom setups. */

export type {
  EndStatus,
  ExecutionState,
  MintedToken,
  RegisterExecution,
  RegisteredExecution,
} from './client/issuer-client.js';
export { IssuerClient, mintToken } from './client/issuer-client.js';
export { IssuerError, isIssuerError, isPermanentFailure } from './client/issuer-error.js';
export { hooksConfigFromEnv, nodeSettingsFromEnv } from './config.js';
export { endStatusOf } from './execution/end-status.js';
export { registrationFor } from './execution/registration.js';
export { identityPolicyFromEnv } from './identity/policy.js';
export type { LocalRun, ResolvedIdentity, RunningFacts } from './identity/resolve.js';
export { IdentityRefused, resolveIdentity } from './identity/resolve.js';
export type { StoredWorkflow, WorkflowStore } from './identity/stored-workflows.js';
export { canonicalCode, workflowDigest } from './identity/workflow-digest.js';
export type { Clock } from './token-file/clock.js';
export { googleExternalAccount } from './token-file/google-credentials.js';
export { TokenDir } from './token-file/token-dir.js';
export { expiresAtToMs, TokenFileWriter } from './token-file/token-file-writer.js';
