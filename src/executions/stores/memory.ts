import { MemoryAuditStore } from '../../audit/stores/memory.js';
import type { KeyStateRecord, KeyStateStore } from '../../keys/states.js';
import { type EndStatus, type ExecutionRecord, notEnded, type RunState } from '../execution.js';
import { firstStatusList } from '../status-entries.js';
import type {
  ExecutionStore,
  NewRequestToken,
  StatusListInfo,
  StatusListStore,
  StoredRequestToken,
} from '../store.js';

/** In-process store for unit tests and throwaway runs (`store: memory:`); nothing survives a restart. */
export class MemoryStore implements ExecutionStore {
  readonly kind = 'memory';
  private readonly executions = new Map<string, ExecutionRecord>();
  private readonly requestTokens = new Map<string, StoredRequestToken>();
  readonly keyStates = new MemoryKeyStateStore();
  readonly statusLists: StatusListStore;
  /** Lists by number, in the order opened. */
  private readonly lists = new Map<number, StatusListInfo & { next: number }>();
  private newestList?: StatusListInfo & { next: number };

  constructor() {
    this.statusLists = {
      reserveStatusEntries: async (count, size, now) => {
        let newest = this.newestList;
        if (!newest || newest.next >= newest.size) {
          const list = newest ? newest.list + 1 : firstStatusList();
          newest = { list, size, createdAt: now, next: 0 };
          this.lists.set(list, newest);
          this.newestList = newest;
        }
        const idx = newest.next;
        newest.next = Math.min(newest.size, idx + count);
        return { list: newest.list, idx, count: newest.next - idx };
      },
      listStatusLists: async () =>
        [...this.lists.values()].map(({ list, size, createdAt }) => ({ list, size, createdAt })),
      readStatusList: async (list) => {
        const info = this.lists.get(list);
        if (!info) return undefined;
        const running = [];
        for (const record of this.executions.values()) {
          if (record.status === 'running' && record.statusEntry?.list === list) {
            running.push({ idx: record.statusEntry.idx, deadline: record.deadline });
          }
        }
        return { size: info.size, running };
      },
    };
  }
  readonly audit = new MemoryAuditStore();

  async insertExecution(record: ExecutionRecord, requestToken?: NewRequestToken) {
    const key = executionKey(record.engine, record.executionId);
    const existing = this.executions.get(key);
    if (existing) return { inserted: false, record: structuredClone(existing) };
    this.executions.set(key, structuredClone(record));
    if (requestToken) {
      this.requestTokens.set(requestToken.tokenId, {
        engine: record.engine,
        executionId: record.executionId,
        secretHash: requestToken.secretHash,
      });
    }
    return { inserted: true, record: structuredClone(record) };
  }

  async getExecution(engine: string, executionId: string) {
    const record = this.executions.get(executionKey(engine, executionId));
    return record && structuredClone(record);
  }

  async endExecution(engine: string, executionId: string, status: EndStatus, endedAt: number) {
    const record = this.executions.get(executionKey(engine, executionId));
    if (record && notEnded(record)) Object.assign(record, { status, endedAt });
    return record && structuredClone(record);
  }

  async moveExecution(
    engine: string,
    executionId: string,
    from: RunState,
    to: RunState,
    deadline: number,
    now: number,
  ) {
    const record = this.executions.get(executionKey(engine, executionId));
    if (record?.status === from && record.deadline > now) {
      Object.assign(record, { status: to, deadline });
    }
    return record && structuredClone(record);
  }

  async addRequestToken(tokenId: string, token: StoredRequestToken) {
    this.requestTokens.set(tokenId, token);
  }

  async getRequestToken(tokenId: string) {
    const token = this.requestTokens.get(tokenId);
    return (
      token && { ...token, execution: await this.getExecution(token.engine, token.executionId) }
    );
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
      if (!this.executions.has(executionKey(token.engine, token.executionId)))
        this.requestTokens.delete(tokenId);
    }
    return deleted;
  }

  async ping() {}
  async close() {}
}

/** One map key per (engine, execution id); JSON keeps the pair unambiguous whatever the ids hold. */
function executionKey(engine: string, executionId: string): string {
  return JSON.stringify([engine, executionId]);
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
