/**
 * Key states as the store keeps them: one record per kid, written by the key lifecycle
 * (lifecycle.ts) and the operator's `wfid keys` commands (operations.ts). Every store
 * (src/executions/stores) implements `KeyStateStore`.
 */
export const KEY_STATES = ['pending', 'active', 'retiring', 'retired'] as const;
export type KeyState = (typeof KEY_STATES)[number];

/** The lifecycle of one key version, keyed by kid. Times are epoch milliseconds. */
export interface KeyStateRecord {
  kid: string;
  /** Backend ref of the version, for operators. */
  ref: string;
  state: KeyState;
  /** When the key first appeared in the JWKS. */
  publishedAt: number;
  /** When the key started signing (set once it is active). */
  activatedAt?: number;
  /** When the key stopped signing (retiring) and when it left the JWKS (retired). */
  retiringAt?: number;
  retiredAt?: number;
  /**
   * Why it was retired: on schedule, by an operator (`wfid keys retire`), or because the backend
   * stopped listing it as enabled. Only the last kind may come back (see planKeyStates).
   */
  retiredBy?: 'schedule' | 'operator' | 'backend';
}

export interface KeyStateStore {
  listKeyStates(): Promise<KeyStateRecord[]>;
  /** Inserts or replaces the record of `record.kid`. */
  putKeyState(record: KeyStateRecord): Promise<void>;
  /**
   * Takes or renews the named lease for `holder` for `ttlMs`; true if `holder` holds it now.
   * Rotation steps run under a lease so that exactly one replica performs each.
   */
  acquireLease(name: string, holder: string, ttlMs: number): Promise<boolean>;
  releaseLease(name: string, holder: string): Promise<void>;
}
