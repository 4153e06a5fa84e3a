/**
 * Key layout (all under `wfid:`; pick a database in the URL path to share a server):
 *   wfid:execution:<ref>          hash, the columns of ExecutionRow
 *   wfid:execution:<ref>:tokens   set of the execution's request token ids
 *   wfid:rt:<token id>            hash {engine, execution_id, ref, secret_hash (hex)}
 *   wfid:execution_retention      sorted set of refs scored by ended_at, else deadline
 *   wfid:key_states               hash kid -> KeyStateRecord JSON
 *   wfid:lease:<name>             string holder, with the lease's TTL
 *   wfid:status_lists             hash list number -> "size:created_at" of every status list opened
 *   wfid:status_list:newest       hash {list, size, next}: where the next status entry comes from
 *   wfid:sl:<list>                hash idx -> execution key, for the list's executions not yet
 *                                 seen ended (pruned when the list is read, and at collection)
 *   wfid:audit                    sorted set of audit events (see src/audit/stores/redis.ts)
 *   wfid:status_lists             hash list number -> "size:created_at" of every status list opened
 *   wfid:status_list:newest       hash {list, size, next}: where the next status entry comes from
 *   wfid:sl:<list>                hash idx -> execution key, for the list's executions not yet
 *                                 seen ended (pruned when the list is read, and at collection)
 *   wfid:schema                   "2" once the first layout is moved (redis-first-layout.ts)
 * `<ref>` is `base64url(engine):base64url(execution id)`. base64url has no `:`, so no id (ids
 * may contain `:`) can name another execution's key or its token set, and no engine another
 * engine's. Token ids are base64url already.
 * Scripts touch keys they build themselves, so this needs a single primary (standalone or
 * Sentinel), not Redis Cluster.
 */
export const PREFIX = 'wfid:';
export const RETENTION = `${PREFIX}execution_retention`;
export const KEY_STATES = `${PREFIX}key_states`;
export const SCHEMA = `${PREFIX}schema`;
export const SCHEMA_VERSION = '2';

/** `base64url(engine):base64url(id)`: the one spelling of an execution in keys (layout above). */
export function executionRef(engine: string, executionId: string): string {
  return `${Buffer.from(engine).toString('base64url')}:${Buffer.from(executionId).toString('base64url')}`;
}

export function execKey(ref: string): string {
  return `${PREFIX}execution:${ref}`;
}

/** Token ids are base64url: never a `:`, so never another key's name. */
export function requestTokenKey(tokenId: string): string {
  return `${PREFIX}rt:${tokenId}`;
}

export function leaseKey(name: string): string {
  return `${PREFIX}lease:${name}`;
}
