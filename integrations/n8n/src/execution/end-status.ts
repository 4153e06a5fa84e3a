import type { EndStatus } from '../client/issuer-client.js';

/** The parts of n8n's IRun that decide how an execution ended. */
export interface N8nRunOutcome {
  status?: string;
  waitTill?: Date | string | null;
  data?: { resultData?: { error?: unknown } };
}

/**
 * The issuer's end status for an n8n run, as n8n's own determineFinalExecutionStatus
 * decides it; `undefined` while the execution waits (a Wait node): it resumes later under
 * the same id and must keep its identity. In queue mode the main process calls
 * workflow.postExecute before that status is final, so it is derived here, not read.
 */
export function endStatusOf(run: N8nRunOutcome | undefined): EndStatus | undefined {
  if (!run) return 'crashed';
  if (run.waitTill || run.status === 'waiting') return undefined;
  switch (run.status) {
    case 'crashed':
      return 'crashed';
    case 'canceled':
      return 'canceled';
    case 'error':
      return 'error';
    default:
      return run.data?.resultData?.error ? 'error' : 'success';
  }
}
