import { WfidError } from '../errors.js';
import type { KeyStateRecord, KeyStateStore } from './states.js';

/**
 * Operator actions on key states (the `wfid keys` commands). They write the store directly,
 * whoever holds the rotation lease: every replica follows at its next refresh (`keys.refresh`).
 */

async function recordOf(store: KeyStateStore, kid: string): Promise<KeyStateRecord> {
  const record = (await store.listKeyStates()).find((item) => item.kid === kid);
  if (!record)
    throw new WfidError('ERR_KEY_NOT_FOUND', `no key with kid ${kid} is known to the issuer`);
  return record;
}

/**
 * Stops a key signing. Normally it keeps serving in the JWKS until its tokens expire
 * (`retiring`); with `now` (compromise) it leaves the JWKS at once, so tokens it signed stop
 * verifying, and the next usable version (or a new one) activates at the next refresh.
 */
export async function retireKey(
  store: KeyStateStore,
  kid: string,
  options: { now: boolean; at?: number },
): Promise<KeyStateRecord> {
  const record = await recordOf(store, kid);
  const at = options.at ?? Date.now();
  if (record.state === 'retired') return record;
  const next: KeyStateRecord = options.now
    ? {
        ...record,
        state: 'retired',
        retiringAt: record.retiringAt ?? at,
        retiredAt: at,
        retiredBy: 'operator',
      }
    : { ...record, state: 'retiring', retiringAt: at };
  await store.putKeyState(next);
  return next;
}

/**
 * Makes a pending key the signing key now. Refused before it has been published for the
 * prepublish lead time (verifiers may not have it cached yet) unless `force`.
 */
export async function activateKey(
  store: KeyStateStore,
  kid: string,
  options: { prepublishMs: number; force: boolean; at?: number },
): Promise<KeyStateRecord> {
  const record = await recordOf(store, kid);
  const at = options.at ?? Date.now();
  if (record.state === 'active') return record;
  if (record.state === 'retired')
    throw new WfidError('ERR_CONFLICT', `key ${kid} is retired and cannot sign again`);
  const readyAt = record.publishedAt + options.prepublishMs;
  if (record.state === 'pending' && at < readyAt && !options.force) {
    throw new WfidError(
      'ERR_CONFLICT',
      `key ${kid} has been published only since ${new Date(record.publishedAt).toISOString()}; verifiers may not have it yet. It activates by itself at ${new Date(readyAt).toISOString()} (use --force to activate now anyway)`,
    );
  }
  for (const other of await store.listKeyStates()) {
    if (other.state === 'active' && other.kid !== kid)
      await store.putKeyState({ ...other, state: 'retiring', retiringAt: at });
  }
  const active: KeyStateRecord = { ...record, state: 'active', activatedAt: at };
  delete active.retiringAt;
  await store.putKeyState(active);
  return active;
}
