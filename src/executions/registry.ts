import { WfidError } from '../errors.js';
import { newRequestToken, parseRequestToken, secretMatches } from '../tokens/request-token.js';
import {
  type ClaimValue,
  type EndStatus,
  type ExecutionIdentity,
  type ExecutionRecord,
  isRunning,
} from './execution.js';
import { StatusEntryAllocator } from './status-entries.js';
import type { ExecutionStore } from './store.js';

/** A registration from the engine (already shape-checked). */
export interface StartInput extends ExecutionIdentity {
  claims?: Record<string, ClaimValue>;
  maxDurationS?: number;
}

export interface Started {
  record: ExecutionRecord;
  requestToken: string;
  /** False when the execution was already registered and running (idempotent start). */
  created: boolean;
}

export interface RegistryOptions {
  /** Deadline for executions without max_duration_s, and the cap for those with one. */
  maxDurationMs: number;
  /** How long an ended execution is kept (at least the longest token lifetime plus skew). */
  retentionMs: number;
  /** Entries of a status list opened from now on (status_list.size). */
  statusListSize: number;
  now?: () => number;
}

/** The executions an engine registered, and the request tokens that let them mint. */
export class ExecutionRegistry {
  private readonly now: () => number;
  private readonly statusEntries: StatusEntryAllocator;

  constructor(
    readonly store: ExecutionStore,
    private readonly options: RegistryOptions,
  ) {
    this.now = options.now ?? Date.now;
    this.statusEntries = new StatusEntryAllocator(store.statusLists, options.statusListSize);
  }

  /**
   * Registers a running execution and issues a request token for it. Registering the same
   * running execution again (an engine retry, or a queue-mode worker) is idempotent: the
   * record stays as it was and one more request token is issued; earlier ones stay valid.
   */
  async start(input: StartInput): Promise<Started> {
    const now = this.now();
    const durationMs = Math.min(
      input.maxDurationS === undefined ? Infinity : input.maxDurationS * 1000,
      this.options.maxDurationMs,
    );
    const { claims, maxDurationS: _, ...identity } = input;
    // Taken before the insert; a repeated registration leaves its entry unused (INVALID), never
    // shared, so no token can name the status of another execution.
    const statusEntry = await this.statusEntries.next(now);
    const candidate: ExecutionRecord = {
      ...identity,
      claims: claims ?? {},
      status: 'running',
      startedAt: now,
      deadline: now + durationMs,
      statusEntry,
    };
    const { inserted, record } = await this.store.insertExecution(dropUndefined(candidate));
    if (!inserted) {
      if (record.workflowId !== input.workflowId) {
        throw new WfidError(
          'ERR_CONFLICT',
          `execution ${input.executionId} is registered for another workflow`,
        );
      }
      if (!isRunning(record, now)) {
        throw new WfidError(
          'ERR_EXECUTION_ENDED',
          `execution ${input.executionId} has already ended`,
        );
      }
    }
    const { token, tokenId, secretHash } = newRequestToken();
    await this.store.addRequestToken(tokenId, { executionId: record.executionId, secretHash });
    return { record, requestToken: token, created: inserted };
  }

  async end(executionId: string, status: EndStatus): Promise<ExecutionRecord> {
    const record = await this.store.endExecution(executionId, status, this.now());
    if (!record) throw new WfidError('ERR_NOT_FOUND', `execution ${executionId} is not registered`);
    return record;
  }

  async get(executionId: string): Promise<ExecutionRecord> {
    const record = await this.store.getExecution(executionId);
    if (!record) throw new WfidError('ERR_NOT_FOUND', `execution ${executionId} is not registered`);
    return record;
  }

  /** The running execution a request token belongs to; refused once the execution has ended. */
  async authenticate(requestToken: string): Promise<ExecutionRecord> {
    const parsed = parseRequestToken(requestToken);
    const stored = parsed && (await this.store.getRequestToken(parsed.tokenId));
    if (!parsed || !stored || !secretMatches(parsed.secret, stored.secretHash)) {
      throw new WfidError('ERR_INVALID_TOKEN', 'the request token is not valid');
    }
    const record = stored.execution;
    if (!record || !isRunning(record, this.now())) {
      throw new WfidError(
        'ERR_INVALID_TOKEN',
        'the request token is not valid: its execution has ended',
      );
    }
    return record;
  }

  /** Deletes executions that ended longer ago than the retention. */
  async collect(): Promise<number> {
    return this.store.collectExecutions(this.now() - this.options.retentionMs);
  }
}

function dropUndefined<T extends object>(value: T): T {
  return Object.fromEntries(Object.entries(value).filter(([, item]) => item !== undefined)) as T;
}
