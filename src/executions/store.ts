import type { AuditStore } from '../audit/store.js';
import type { KeyStateStore } from '../keys/states.js';
import type { EndStatus, ExecutionRecord, RunState, StatusEntry } from './execution.js';

/** A request token's stored half: the execution it belongs to and the hash of its secret. */
export interface StoredRequestToken {
  /** The execution's engine: a request token is bound to one engine's execution. */
  engine: string;
  executionId: string;
  secretHash: Buffer;
}

/** A request token to store with a new execution (its engine and id are the execution's). */
export interface NewRequestToken {
  tokenId: string;
  secretHash: Buffer;
}

/**
 * A request token as the mint path looks it up: with its execution, read in the same round
 * trip (a JOIN, a script), since every token request needs both. `execution` is undefined
 * once the execution has been collected.
 */
export interface RequestTokenLookup extends StoredRequestToken {
  execution?: ExecutionRecord;
}

/**
 * Persistence of executions and request tokens. Implementations: memory (tests), SQLite
 * (default), PostgreSQL and Redis (several replicas). All pass test/stores/store-suite.ts.
 * Every method answers from the shared state as it is now: a store may cache only what it can
 * prove fresh (SQLite checks `data_version`), so an end accepted by one replica is seen by every
 * other on its next request. Callers treat returned records as read-only.
 * Executions live in their engine's namespace: an execution is named by (engine, execution id),
 * and no call made with one engine's name reads, ends or collides with another engine's.
 */
export interface ExecutionStore {
  readonly kind: string;
  /**
   * Inserts the execution unless its engine already has one with its id; returns the stored
   * record either way. When it inserts, it stores `requestToken` (if given) in the same write
   * (one transaction, statement or script), so a new registration costs one durable write.
   */
  insertExecution(
    record: ExecutionRecord,
    requestToken?: NewRequestToken,
  ): Promise<{ inserted: boolean; record: ExecutionRecord }>;
  getExecution(engine: string, executionId: string): Promise<ExecutionRecord | undefined>;
  /**
   * Marks a running or waiting execution ended (durably, before resolving). Returns the record
   * after the call: unchanged if it had already ended, undefined if unknown.
   */
  endExecution(
    engine: string,
    executionId: string,
    status: EndStatus,
    endedAt: number,
  ): Promise<ExecutionRecord | undefined>;
  /**
   * Moves an execution stored as `from` whose deadline is after `now` to `to` with `deadline`
   * (a pause or a resume), durably. Returns the record after the call: unchanged if it was not
   * `from` or was past its deadline, undefined if unknown.
   */
  moveExecution(
    engine: string,
    executionId: string,
    from: RunState,
    to: RunState,
    deadline: number,
    now: number,
  ): Promise<ExecutionRecord | undefined>;
  addRequestToken(tokenId: string, token: StoredRequestToken): Promise<void>;
  getRequestToken(tokenId: string): Promise<RequestTokenLookup | undefined>;
  /**
   * Deletes executions (and their request tokens) that ended, or passed their deadline,
   * before `before`. Returns how many were deleted.
   */
  collectExecutions(before: number): Promise<number>;
  /** Key states and leases for rotation. */
  readonly keyStates: KeyStateStore;
  /** Status list allocation and the running entries each list serves. */
  readonly statusLists: StatusListStore;
  /** The audit trail's events, in their own table or key. */
  readonly audit: AuditStore;
  /** Throws if the store cannot be reached (for /readyz). */
  ping(): Promise<void>;
  close(): Promise<void>;
}

/** A status list as allocated: its number, its fixed number of entries, when it was opened. */
export interface StatusListInfo {
  list: number;
  size: number;
  createdAt: number;
}

/** An entry of a list whose execution is stored as running (its deadline is judged by the caller). */
export interface RunningEntry {
  idx: number;
  deadline: number;
}

/** A run of consecutive entries of one list: `idx` to `idx + count - 1`. */
export interface StatusEntryBlock extends StatusEntry {
  count: number;
}

/**
 * Token Status List entries. Indexes are handed out in order and never twice: an entry names
 * one execution for good, so no token can ever point at another execution's status. When the
 * newest list is full, a new one is opened (its size fixed when it opens, so a change of
 * `status_list.size` never moves an existing entry).
 */
export interface StatusListStore {
  /**
   * Reserves up to `count` unused entries of the newest list (fewer where it ends), opening a
   * list of `size` entries when it is full. A replica hands them out itself, so registrations
   * cost one store write per block instead of one each; entries it never hands out stay INVALID.
   */
  reserveStatusEntries(count: number, size: number, now: number): Promise<StatusEntryBlock>;
  /** Every list opened so far, oldest first. */
  listStatusLists(): Promise<StatusListInfo[]>;
  /**
   * The list's size and the entries of its executions stored as `running`, read from the
   * executions themselves (so an end committed by any replica is seen at once);
   * undefined for a list never opened.
   */
  readStatusList(list: number): Promise<{ size: number; running: RunningEntry[] } | undefined>;
}
