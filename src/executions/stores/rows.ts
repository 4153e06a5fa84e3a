import type { ExecutionRecord } from '../execution.js';

/** The flat row SQL stores keep; optional metadata travels as one JSON column. */
export interface ExecutionRow {
  engine: string;
  execution_id: string;
  workflow_id: string;
  metadata: string;
  status: ExecutionRecord['status'];
  started_at: number | string;
  deadline: number | string;
  ended_at: number | string | null;
  /** The status list entry (draft-ietf-oauth-status-list), null for older executions. */
  status_list: number | string | null;
  status_idx: number | string | null;
}

type Metadata = Omit<
  ExecutionRecord,
  | 'engine'
  | 'executionId'
  | 'workflowId'
  | 'status'
  | 'startedAt'
  | 'deadline'
  | 'endedAt'
  | 'statusEntry'
>;

export function toRow(record: ExecutionRecord): ExecutionRow {
  const {
    engine,
    executionId,
    workflowId,
    status,
    startedAt,
    deadline,
    endedAt,
    statusEntry,
    ...metadata
  } = record;
  return {
    engine,
    execution_id: executionId,
    workflow_id: workflowId,
    metadata: JSON.stringify(metadata satisfies Metadata),
    status,
    started_at: startedAt,
    deadline,
    ended_at: endedAt ?? null,
    status_list: statusEntry?.list ?? null,
    status_idx: statusEntry?.idx ?? null,
  };
}

/** Runs on every token request: fills the parsed metadata object in place instead of spreading. */
export function fromRow(row: ExecutionRow): ExecutionRecord {
  const record = JSON.parse(row.metadata) as ExecutionRecord;
  record.engine = row.engine;
  record.executionId = row.execution_id;
  record.workflowId = row.workflow_id;
  record.status = row.status;
  record.startedAt = Number(row.started_at);
  record.deadline = Number(row.deadline);
  if (row.ended_at !== null) record.endedAt = Number(row.ended_at);
  if (row.status_list !== null && row.status_list !== undefined) {
    record.statusEntry = { list: Number(row.status_list), idx: Number(row.status_idx) };
  }
  return record;
}
