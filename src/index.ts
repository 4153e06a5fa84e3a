/**
 * `workflow-identity`: the issuer API, for running the issuer in-process (inside a workflow
 * engine) or embedding its parts. Verifiers use `workflow-identity/verify`.
 *
 * @example
 * ```ts
 * import { createIssuer, loadConfig } from 'workflow-identity';
 *
 * const issuer = await createIssuer(loadConfig());
 * await issuer.listen();
 * const engine = { name: DEFAULT_ENGINE };
 * const { record, requestToken } = await issuer.registry.start(engine, { executionId: '42', workflowId: 'wf-1' });
 * const token = await issuer.minter.mint(record, { audience: 'https://sts.amazonaws.com' });
 * ```
 */
export { type LoadOptions, loadConfig, secretEnvNames } from './config/load.js';
export type { Config, ConfigInput } from './config/schema.js';
export { type ErrorCode, isWfidError, WfidError } from './errors.js';
export { DEFAULT_ENGINE, type Engine } from './executions/engine.js';
export type { EndStatus, ExecutionRecord, ExecutionStatus } from './executions/execution.js';
export { ExecutionRegistry, type StartInput } from './executions/registry.js';
export type { ExecutionStore } from './executions/store.js';
export { openStore } from './executions/stores/open.js';
export { buildServer } from './http/server.js';
export { createIssuer, type Issuer, type IssuerOptions } from './issuer.js';
export type { JwsAlg } from './jws/algorithms.js';
export { derToRaw, rawToDer } from './jws/ecdsa.js';
export { jwkThumbprint, type PublicJwk, toPublicJwk } from './jws/jwk.js';
export type { BackendFactory, BackendKey, BackendOptions, KeyBackend } from './keys/backend.js';
export { openBackend } from './keys/open.js';
export { KeyRing, type RingKey } from './keys/ring.js';
export type { KeyStateRecord, KeyStateStore } from './keys/states.js';
export { TokenMinter } from './tokens/mint.js';
