import type { KeyState, KeyStateStore } from '../keys/states.js';
import type { AuditKind } from './event.js';
import type { AuditTrail } from './trail.js';

const KIND_OF_STATE: Record<KeyState, AuditKind> = {
  pending: 'key.published',
  active: 'key.activated',
  retiring: 'key.retiring',
  retired: 'key.retired',
};

/**
 * The key state store, recording every state change in the audit trail: the rotation leader's
 * steps and the operator's `wfid keys` commands both write through it. A write that keeps a
 * known kid in its state (a refreshed record) is not a change.
 */
export function auditedKeyStates(inner: KeyStateStore, trail: AuditTrail): KeyStateStore {
  const known = new Map<string, KeyState>();
  return {
    async listKeyStates() {
      const records = await inner.listKeyStates();
      for (const record of records) known.set(record.kid, record.state);
      return records;
    },
    async putKeyState(record) {
      await inner.putKeyState(record);
      if (known.get(record.kid) === record.state) return;
      known.set(record.kid, record.state);
      trail.record({
        kind: KIND_OF_STATE[record.state],
        kid: record.kid,
        outcome: record.state,
        reason: record.retiredBy ?? null,
      });
    },
    acquireLease: (name, holder, ttlMs) => inner.acquireLease(name, holder, ttlMs),
    releaseLease: (name, holder) => inner.releaseLease(name, holder),
  };
}
