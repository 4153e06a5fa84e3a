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
export { hooksConfigFromEnv } from './config.js';
export { endStatusOf } from './execution/end-status.js';
export { registrationFor } from './execution/registration.js';
export type { Clock } from './token-file/clock.js';
export { googleExternalAccount } from './token-file/google-credentials.js';
export { expiresAtToMs, TokenFileWriter } from './token-file/token-file-writer.js';
