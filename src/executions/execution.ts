/** Statuses the engine reports when an execution ends. */
export const END_STATUSES = ['success', 'error', 'canceled', 'crashed'] as const;
export type EndStatus = (typeof END_STATUSES)[number];

/**
 * `waiting`: paused by the engine (an n8n Wait node) and expected to resume under the same id;
 * it mints nothing meanwhile. `expired`: still running or waiting in the store, but past its
 * deadline, so it counts as ended.
 */
export type ExecutionStatus = RunState | EndStatus | 'expired';

/** The states of an execution that has not ended. */
export type RunState = 'running' | 'waiting';

/** A claim value an engine may attach to an execution. */
export type ClaimValue = string | number | boolean | string[];

/** What the engine says about an execution when it registers it; it all ends up in tokens. */
export interface ExecutionIdentity {
  /** The engine credential's name: the namespace of the execution id (see engine.ts). */
  engine: string;
  executionId: string;
  workflowId: string;
  workflowName?: string;
  workflowVersion?: string;
  projectId?: string;
  owner?: string;
  mode?: string;
  trigger?: string;
  environment?: string;
  /** The engine instance that runs the execution (n8n instance id, runner name). */
  instance?: string;
}

/**
 * The execution's entry in a Token Status List (draft-ietf-oauth-status-list): list number and
 * index, allocated once at registration and never given to another execution.
 */
export interface StatusEntry {
  list: number;
  idx: number;
}

/** One execution as the registry keeps it. Times are epoch milliseconds. */
export interface ExecutionRecord extends ExecutionIdentity {
  /** Engine-supplied claims, already checked against the config's allowlist. */
  claims: Record<string, ClaimValue>;
  status: RunState | EndStatus;
  startedAt: number;
  /**
   * After this instant a running or waiting execution counts as ended: max_duration_s (capped by
   * config) from its start or its last resume; while it waits, executions.max_wait from the pause.
   */
  deadline: number;
  endedAt?: number;
  /** Absent for executions registered before status lists existed: their tokens carry no `status`. */
  statusEntry?: StatusEntry;
}

/** A running execution counts as ended from its deadline on. */
export function pastDeadline(deadline: number, now: number): boolean {
  return now >= deadline;
}

export function effectiveStatus(record: ExecutionRecord, now: number): ExecutionStatus {
  if (notEnded(record) && pastDeadline(record.deadline, now)) return 'expired';
  return record.status;
}

export function isRunning(record: ExecutionRecord, now: number): boolean {
  return effectiveStatus(record, now) === 'running';
}

/** Running or waiting, as stored (its deadline not judged). */
export function notEnded(record: ExecutionRecord): boolean {
  return record.status === 'running' || record.status === 'waiting';
}
