import { isDeepStrictEqual } from 'node:util';
import { WfidError } from '../errors.js';
import { LINEAGE_FIELDS } from '../tokens/claims.js';
import { newRequestToken, parseRequestToken, secretMatches } from '../tokens/request-token.js';
import { type Engine, withEngineClaims } from './engine.js';
import {
  type ClaimValue,
  type EndStatus,
  type ExecutionIdentity,
  type ExecutionRecord,
  effectiveStatus,
  isRunning,
} from './execution.js';
import { StatusEntryAllocator } from './status-entries.js';
import type { ExecutionStore, NewRequestToken } from './store.js';

/** A registration from the engine (already shape-checked); the engine comes from its credential. */
export interface StartInput extends Omit<ExecutionIdentity, 'engine'> {
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
  /** How long a paused execution may wait for its resume (executions.max_wait; 30 days). */
  maxWaitMs?: number;
  /** How long an ended execution is kept (at least the longest token lifetime plus skew). */
  retentionMs: number;
  /** Entries of a status list opened from now on (status_list.size). */
  statusListSize: number;
  /**
   * Runs on a new registration before anything is stored, and throws to refuse it (the issuer
   * renders the `sub` template here), so a refused registration leaves nothing behind.
   */
  checkIdentity?: (record: ExecutionRecord) => void;
  now?: () => number;
}

const DEFAULT_MAX_WAIT_MS = 30 * 86_400_000;

/** Identity fields as the engine API names them, for conflict errors. */
const IDENTITY_FIELDS = {
  workflowId: 'workflow_id',
  workflowName: 'workflow_name',
  workflowVersion: 'workflow_version',
  projectId: 'project_id',
  owner: 'owner',
  mode: 'mode',
  trigger: 'trigger',
  environment: 'environment',
  instance: 'instance',
} as const satisfies Partial<Record<keyof ExecutionIdentity, string>>;

/** The executions engines registered, each in its engine's namespace, and their request tokens. */
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
   * Registers a running execution of `engine` and issues a request token for it. Registering
   * the same running execution again (an engine retry, or a queue-mode worker) with the same
   * values, or a subset of them, is idempotent: the record stays as it was and one more request
   * token is issued; earlier ones stay valid. Another value for any field is a conflict.
   */
  async start(engine: Engine, input: StartInput): Promise<Started> {
    const now = this.now();
    const { claims, maxDurationS, ...identity } = withEngineClaims(engine, input);
    const candidate: ExecutionRecord = dropUndefined({
      ...identity,
      claims: claims ?? {},
      status: 'running',
      startedAt: now,
      deadline: now + this.durationMs(maxDurationS),
    });
    const { token, tokenId, secretHash } = newRequestToken();
    // A new execution is stored with its request token in one write.
    const { inserted, record } = await this.register(candidate, { tokenId, secretHash });
    if (inserted) return { record, requestToken: token, created: true };
    // A repeat: the stored record must still run and agree; the token is then stored alone.
    if (effectiveStatus(record, now) === 'waiting') {
      throw new WfidError(
        'ERR_EXECUTION_WAITING',
        `execution ${input.executionId} is waiting: resume it instead`,
      );
    }
    if (!isRunning(record, now)) {
      throw new WfidError(
        'ERR_EXECUTION_ENDED',
        `execution ${input.executionId} has already ended`,
      );
    }
    const field = this.conflictingField(record, candidate, maxDurationS);
    if (field) {
      throw new WfidError(
        'ERR_CONFLICT',
        `${field}: execution ${input.executionId} is registered with another value`,
      );
    }
    await this.store.addRequestToken(tokenId, {
      engine: record.engine,
      executionId: record.executionId,
      secretHash,
    });
    return { record, requestToken: token, created: false };
  }

  /**
   * Pauses a running execution (an n8n Wait node): it mints nothing, its request tokens are
   * refused, its tokens introspect inactive and its status entry reads INVALID until it resumes.
   * It may wait executions.max_wait. Pausing a waiting execution again changes nothing.
   */
  async wait(engine: Engine, executionId: string): Promise<ExecutionRecord> {
    const now = this.now();
    const record = await this.store.moveExecution(
      engine.name,
      executionId,
      'running',
      'waiting',
      now + (this.options.maxWaitMs ?? DEFAULT_MAX_WAIT_MS),
      now,
    );
    return this.moved(executionId, record, 'waiting', now);
  }

  /**
   * Resumes a waiting execution with a new deadline counted from now (max_duration_s, capped as
   * at registration) and a new request token; earlier request tokens work again too. Resuming a
   * running execution only issues a request token (a retried call, another worker).
   */
  async resume(engine: Engine, executionId: string, maxDurationS?: number): Promise<Started> {
    const now = this.now();
    const moved = await this.store.moveExecution(
      engine.name,
      executionId,
      'waiting',
      'running',
      now + this.durationMs(maxDurationS),
      now,
    );
    const record = this.moved(executionId, moved, 'running', now);
    return { record, requestToken: await this.issueRequestToken(record), created: false };
  }

  private moved(
    executionId: string,
    record: ExecutionRecord | undefined,
    wanted: 'running' | 'waiting',
    now: number,
  ): ExecutionRecord {
    if (!record) throw notRegistered(executionId);
    if (effectiveStatus(record, now) !== wanted) {
      throw new WfidError('ERR_EXECUTION_ENDED', `execution ${executionId} has already ended`);
    }
    return record;
  }

  private async issueRequestToken(record: ExecutionRecord): Promise<string> {
    const { token, tokenId, secretHash } = newRequestToken();
    await this.store.addRequestToken(tokenId, {
      engine: record.engine,
      executionId: record.executionId,
      secretHash,
    });
    return token;
  }

  /**
   * Stores a registration that passes the identity check. One that does not may still repeat a
   * stored execution (a subset that leaves out a value the `sub` template needs): it is then
   * judged against the stored record, like any repeat. Otherwise it is refused, storing nothing.
   */
  private async register(candidate: ExecutionRecord, requestToken: NewRequestToken) {
    try {
      this.options.checkIdentity?.(candidate);
    } catch (refusal) {
      const stored = await this.store.getExecution(candidate.engine, candidate.executionId);
      if (!stored) throw refusal;
      return { inserted: false, record: stored };
    }
    // Taken before the insert; a repeated registration leaves its entry unused (INVALID), never
    // shared, so no token can name the status of another execution.
    candidate.statusEntry = await this.statusEntries.next(candidate.startedAt);
    return this.store.insertExecution(candidate, requestToken);
  }

  async end(engine: Engine, executionId: string, status: EndStatus): Promise<ExecutionRecord> {
    const record = await this.store.endExecution(engine.name, executionId, status, this.now());
    if (!record) throw notRegistered(executionId);
    return record;
  }

  async get(engine: Engine, executionId: string): Promise<ExecutionRecord> {
    const record = await this.store.getExecution(engine.name, executionId);
    if (!record) throw notRegistered(executionId);
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
    if (record && effectiveStatus(record, this.now()) === 'waiting') {
      throw new WfidError(
        'ERR_INVALID_TOKEN',
        'the request token is not valid while its execution is waiting',
      );
    }
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

  private durationMs(maxDurationS: number | undefined): number {
    return Math.min(
      maxDurationS === undefined ? Infinity : maxDurationS * 1000,
      this.options.maxDurationMs,
    );
  }

  /**
   * The first field (as the engine API names it) where a repeated registration says something
   * the stored one does not. Fields the repeat leaves out are not compared: a subset agrees.
   */
  private conflictingField(
    stored: ExecutionRecord,
    repeat: ExecutionRecord,
    maxDurationS: number | undefined,
  ): string | undefined {
    for (const [field, name] of Object.entries(IDENTITY_FIELDS)) {
      const value = repeat[field as keyof typeof IDENTITY_FIELDS];
      if (value !== undefined && value !== stored[field as keyof typeof IDENTITY_FIELDS])
        return name;
    }
    for (const [name, value] of Object.entries(repeat.claims)) {
      // Lineage (workflow_digest, parent_…) travels with the claims but is a top-level field.
      if (!isDeepStrictEqual(value, stored.claims[name]))
        return (LINEAGE_FIELDS as readonly string[]).includes(name) ? name : `claims.${name}`;
    }
    if (
      maxDurationS !== undefined &&
      stored.startedAt + this.durationMs(maxDurationS) !== stored.deadline
    )
      return 'max_duration_s';
    return undefined;
  }
}

function notRegistered(executionId: string): WfidError {
  return new WfidError('ERR_NOT_FOUND', `execution ${executionId} is not registered`);
}

function dropUndefined<T extends object>(value: T): T {
  return Object.fromEntries(Object.entries(value).filter(([, item]) => item !== undefined)) as T;
}
