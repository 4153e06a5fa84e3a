import type { Logger } from 'pino';
import type { AuditTrail } from '../audit/trail.js';
import type { Config } from '../config/schema.js';
import type { ExecutionRegistry } from '../executions/registry.js';
import type { KeyRing } from '../keys/ring.js';
import type { Metrics } from '../metrics.js';
import type { TokenMinter } from '../tokens/mint.js';
import type { StatusListIssuer } from '../tokens/status-list.js';
import type { EngineCredential } from './engine-tokens.js';

/** What the HTTP routes need from the issuer. */
export interface ServerDeps {
  config: Config;
  ring: KeyRing;
  registry: ExecutionRegistry;
  minter: TokenMinter;
  statusLists: StatusListIssuer;
  metrics: Metrics;
  logger: Logger;
  engineCredentials: readonly EngineCredential[];
  audit: AuditTrail;
  /** WFID_ADMIN_TOKEN: reads the audit trail and the console; undefined = both closed. */
  adminToken?: string;
}
