import type { RingKey } from './ring.js';

/** Which versions the JWKS publishes and which one signs. */
export interface KeyDecision {
  published: RingKey[];
  active?: RingKey;
}

/** Decides key states from the versions the backend lists; rotation plugs in here. */
export interface KeyPolicy {
  decide(keys: RingKey[]): Promise<KeyDecision>;
}

/**
 * Without rotation: every enabled version is published and the newest one signs.
 * A version disabled in the backend leaves the JWKS and stops signing at the next refresh.
 */
export class NewestEnabledPolicy implements KeyPolicy {
  async decide(keys: RingKey[]): Promise<KeyDecision> {
    const published = keys
      .filter((key) => key.backendKey.enabled)
      .sort((a, b) => b.backendKey.createdAt.getTime() - a.backendKey.createdAt.getTime());
    return { published, active: published[0] };
  }
}
