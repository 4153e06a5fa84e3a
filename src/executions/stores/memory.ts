import type { EndStatus, ExecutionRecord } from '../execution.js';
import type {
  ExecutionStore,
  KeyStateRecord,
  KeyStateStore,
  StoredRequestToken,
} from '../store.js';

/** In-process store for unit tests and throwaway runs (`store: memory:`); nothing survives a restart. */
export class MemoryStore implements ExecutionStore {
  readonly kind = 'memory';
  private readonly executions = new Map<string, ExecutionRecord>();
  private readonly requestTokens = new Map<string, StoredRequestToken>();
  readonly keyStates = new MemoryKeyStateStore();

  async insertExecution(record: ExecutionRecord) {
    const existing = this.executions.get(record.executionId);
    if (existing) return { inserted: false, record: structuredClone(existing) };
    this.executions.set(record.executionId, structuredClone(record));
    return { inserted: true, record: structuredClone(record) };
  }

  async getExecution(executionId: string) {
    const record = this.executions.get(executionId);
    return record && structuredClone(record);
  }

  async endExecution(executionId: string, status: EndStatus, endedAt: number) {
    const record = this.executions.get(executionId);
    if (record?.status === 'running') Object.assign(record, { status, endedAt });
    return record && structuredClone(record);
  }

  async addRequestToken(tokenId: string, token: StoredRequestToken) {
    this.requestTokens.set(tokenId, token);
  }

  async getRequestToken(tokenId: string) {
    const token = this.requestTokens.get(tokenId);
    return token && { ...token, execution: await this.getExecution(token.executionId) };
  }

  async collectExecutions(before: number) {
    let deleted = 0;
    for (const [id, record] of this.executions) {
      if ((record.endedAt ?? record.deadline) < before) {
        this.executions.delete(id);
        deleted++;
      }
    }
    for (const [tokenId, token] of this.requestTokens) {
      if (!this.executions.has(token.executionId)) this.requestTokens.delete(tokenId);
    }
    return deleted;
  }

  async ping() {}
  async close() {}
}

export class MemoryKeyStateStore implements KeyStateStore {
  private readonly records = new Map<string, KeyStateRecord>();
  private readonly leases = new Map<string, { holder: string; until: number }>();

  async listKeyStates() {
    return [...this.records.values()].map((record) => ({ ...record }));
  }

  async putKeyState(record: KeyStateRecord) {
    this.records.set(record.kid, { ...record });
  }

  async acquireLease(name: string, holder: string, ttlMs: number) {
    const now = Date.now();
    const lease = this.leases.get(name);
    if (lease && lease.holder !== holder && lease.until > now) return false;
    this.leases.set(name, { holder, until: now + ttlMs });
    return true;
  }

  async releaseLease(name: string, holder: string) {
    if (this.leases.get(name)?.holder === holder) this.leases.delete(name);
  }
}
