import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FileBackend } from '../../backends/file/index.js';
import { MemoryKeyStateStore } from '../../src/executions/stores/memory.js';
import { verifySignature } from '../../src/jws/compact.js';
import { KeyLifecycle } from '../../src/keys/lifecycle.js';
import { activateKey, retireKey } from '../../src/keys/operations.js';
import { planKeyStates } from '../../src/keys/plan.js';
import { KeyRing } from '../../src/keys/ring.js';

const DAY = 86_400_000;
const logger = pino({ level: 'silent' });
const times = { prepublishMs: DAY, retainMs: 3_900_000 };

describe('planKeyStates', () => {
  const version = (kid: string, createdAt: number, enabled = true) => ({
    kid,
    ref: kid,
    createdAt,
    enabled,
  });

  it('activates the first version at once when nothing is active', () => {
    const plan = planKeyStates([], [version('a', 0)], { ...times, now: 10 });
    expect(plan.records.get('a')).toMatchObject({
      state: 'active',
      publishedAt: 10,
      activatedAt: 10,
    });
  });

  it('keeps a new version pending until it has been published for prepublish', () => {
    const first = planKeyStates([], [version('a', 0)], { ...times, now: 0 });
    const second = planKeyStates(first.records.values(), [version('a', 0), version('b', 5)], {
      ...times,
      now: 100,
    });
    expect(second.records.get('b')).toMatchObject({ state: 'pending', publishedAt: 100 });
    const early = planKeyStates(second.records.values(), [version('a', 0), version('b', 5)], {
      ...times,
      now: 100 + DAY - 1,
    });
    expect(early.changed).toEqual([]);
    const due = planKeyStates(second.records.values(), [version('a', 0), version('b', 5)], {
      ...times,
      now: 100 + DAY,
    });
    expect(due.records.get('b')).toMatchObject({ state: 'active', activatedAt: 100 + DAY });
    expect(due.records.get('a')).toMatchObject({ state: 'retiring', retiringAt: 100 + DAY });
    const retired = planKeyStates(due.records.values(), [version('a', 0), version('b', 5)], {
      ...times,
      now: 100 + DAY + times.retainMs,
    });
    expect(retired.records.get('a')).toMatchObject({ state: 'retired' });
  });

  it('is idempotent: the same inputs again change nothing', () => {
    const versions = [version('a', 0), version('b', 5)];
    const once = planKeyStates([], versions, { ...times, now: 0 });
    expect(planKeyStates(once.records.values(), versions, { ...times, now: 0 }).changed).toEqual(
      [],
    );
  });

  it('stops a version disabled outside at once, and the newest usable one takes over', () => {
    const start = planKeyStates([], [version('a', 0)], { ...times, now: 0 });
    const withB = planKeyStates(start.records.values(), [version('a', 0), version('b', 5)], {
      ...times,
      now: 10,
    });
    const disabled = planKeyStates(
      withB.records.values(),
      [version('a', 0, false), version('b', 5)],
      { ...times, now: 20 },
    );
    expect(disabled.records.get('a')).toMatchObject({ state: 'retired', retiredAt: 20 });
    expect(disabled.records.get('b')).toMatchObject({ state: 'active', activatedAt: 20 });
  });

  it('a version missing from one listing comes back as pending; an operator-retired one never does', () => {
    const start = planKeyStates([], [version('a', 0)], { ...times, now: 0 });
    const missing = planKeyStates(start.records.values(), [], { ...times, now: 10 });
    expect(missing.records.get('a')).toMatchObject({ state: 'retired', retiredBy: 'backend' });
    const back = planKeyStates(missing.records.values(), [version('a', 0)], { ...times, now: 20 });
    // Nothing else is usable, so it activates at once, as on a first start.
    expect(back.records.get('a')).toMatchObject({
      state: 'active',
      publishedAt: 20,
      activatedAt: 20,
    });

    const withB = planKeyStates(start.records.values(), [version('a', 0), version('b', 5)], {
      ...times,
      now: 30,
    });
    const retiredByOperator = new Map(withB.records);
    retiredByOperator.set('a', {
      ...withB.records.get('a')!,
      state: 'retired',
      retiredAt: 40,
      retiredBy: 'operator',
    });
    const after = planKeyStates(retiredByOperator.values(), [version('a', 0), version('b', 5)], {
      ...times,
      now: 50,
    });
    expect(after.records.get('a')).toMatchObject({ state: 'retired', retiredBy: 'operator' });
    expect(after.records.get('b')).toMatchObject({ state: 'active' });
  });

  it('repairs a store holding two active versions: the newest keeps signing', () => {
    const stored = [
      { kid: 'a', ref: 'a', state: 'active' as const, publishedAt: 0, activatedAt: 0 },
      { kid: 'b', ref: 'b', state: 'active' as const, publishedAt: 1, activatedAt: 1 },
    ];
    const plan = planKeyStates(stored, [version('a', 0), version('b', 5)], { ...times, now: 50 });
    expect(
      [...plan.records.values()]
        .filter((record) => record.state === 'active')
        .map((record) => record.kid),
    ).toEqual(['b']);
    expect(plan.records.get('a')).toMatchObject({ state: 'retiring', retiringAt: 50 });
  });
});

describe('rotation with the file backend and a controllable clock', () => {
  let dir: string;
  let now: number;
  const clock = () => now;

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'wfid-rotation-'));
    now = Date.UTC(2026, 0, 1);
  });
  afterEach(() => rm(dir, { recursive: true, force: true }));

  function replica(store: MemoryKeyStateStore, name: string, everyMs?: number) {
    const backend = new FileBackend(dir, 'ES256');
    const ring = new KeyRing(backend, { logger });
    const lifecycle = new KeyLifecycle({
      ring,
      store,
      times,
      everyMs,
      create: 'always',
      disableRetired: true,
      holder: name,
      leaseMs: 60_000,
      logger,
      now: clock,
    });
    return { backend, lifecycle, ring };
  }

  const publishedKids = (ring: KeyRing) => ring.publishedKeys().map((key) => key.kid);

  it('rotates every 30 days: prepared a day ahead, old tokens verify until retirement', async () => {
    const store = new MemoryKeyStateStore();
    const { ring, lifecycle } = replica(store, 'r1', 30 * DAY);
    const firstSeen = new Map<string, number>();
    const firstSigned = new Map<string, number>();
    const tick = async () => {
      await lifecycle.tick();
      for (const kid of publishedKids(ring)) if (!firstSeen.has(kid)) firstSeen.set(kid, now);
      const key = ring.signingKey();
      if (!firstSigned.has(key.kid)) firstSigned.set(key.kid, now);
    };

    await tick(); // first start: a key is created and activates at once
    const first = ring.signingKey();
    const input = randomBytes(32);
    const oldSignature = await ring.sign(input);

    for (let day = 1; day <= 30; day++) {
      now += DAY;
      await tick();
    }
    const second = ring.signingKey();
    expect(second.kid).not.toBe(first.kid);
    // The old key still verifies its tokens while retiring.
    expect(publishedKids(ring)).toContain(first.kid);
    expect(
      verifySignature(
        'ES256',
        ring.publishedKey(first.kid)!.backendKey.publicKey,
        input,
        oldSignature,
      ),
    ).toBe(true);
    // Every key that signed after the first was in the JWKS a full prepublish before.
    expect(firstSigned.get(second.kid)! - firstSeen.get(second.kid)!).toBeGreaterThanOrEqual(DAY);

    now += times.retainMs;
    await tick();
    expect(publishedKids(ring)).not.toContain(first.kid);
    // disable_retired: the retired version is disabled in the backend, not deleted.
    const listed = await new FileBackend(dir, 'ES256').listKeys();
    expect(listed.find((key) => key.ref === first.backendKey.ref)?.enabled).toBe(false);
  });

  it('picks up a version made outside: pending first, active after the lead time', async () => {
    const store = new MemoryKeyStateStore();
    const { ring, lifecycle } = replica(store, 'r1');
    await lifecycle.tick();
    const original = ring.signingKey().kid;
    now += 1000;
    await new FileBackend(dir, 'ES256').createKey(); // the security team adds a version
    await lifecycle.tick();
    expect(ring.publishedKeys()).toHaveLength(2);
    expect(ring.signingKey().kid).toBe(original);
    now += DAY;
    await lifecycle.tick();
    expect(ring.signingKey().kid).not.toBe(original);
  });

  it('emergency retire: the key leaves the JWKS at once and another activates', async () => {
    const store = new MemoryKeyStateStore();
    const { ring, lifecycle } = replica(store, 'r1');
    await lifecycle.tick();
    const compromised = ring.signingKey().kid;
    await retireKey(store, compromised, { now: true, at: now });
    await lifecycle.tick(); // no usable key left: a new one is made and activates at once
    expect(publishedKids(ring)).not.toContain(compromised);
    expect(ring.signingKey().kid).not.toBe(compromised);
    expect(ring.publishedKeys()).toHaveLength(1);
  });

  it('activate refuses a key published for less than the lead time unless forced', async () => {
    const store = new MemoryKeyStateStore();
    const { ring, lifecycle, backend } = replica(store, 'r1');
    await lifecycle.tick();
    now += 1000;
    await backend.createKey();
    await lifecycle.tick();
    const pending = ring.publishedKeys().find((key) => key.kid !== ring.signingKey().kid)!;
    await expect(
      activateKey(store, pending.kid, { prepublishMs: DAY, force: false, at: now }),
    ).rejects.toMatchObject({ code: 'ERR_CONFLICT' });
    await activateKey(store, pending.kid, { prepublishMs: DAY, force: true, at: now });
    await lifecycle.tick();
    expect(ring.signingKey().kid).toBe(pending.kid);
  });

  it('with two replicas, only the lease holder writes; the other follows the stored states', async () => {
    const store = new MemoryKeyStateStore();
    const a = replica(store, 'a', 30 * DAY);
    const b = replica(store, 'b', 30 * DAY);
    await a.lifecycle.tick();
    await b.lifecycle.tick();
    expect(a.lifecycle.leader).toBe(true);
    expect(b.lifecycle.leader).toBe(false);
    expect(b.ring.signingKey().kid).toBe(a.ring.signingKey().kid);
    expect(await new FileBackend(dir, 'ES256').listKeys()).toHaveLength(1);
    // The leader goes away: its lease is released and the follower takes over.
    await a.lifecycle.release();
    await b.lifecycle.tick();
    expect(b.lifecycle.leader).toBe(true);
  });

  it('a restart between creating a version and recording it keeps exactly one active key', async () => {
    const store = new MemoryKeyStateStore();
    const before = replica(store, 'r1', 30 * DAY);
    await before.lifecycle.tick();
    const active = before.ring.signingKey().kid;
    await before.backend.createKey(); // the process dies right after this call
    now += 5000;
    const after = replica(store, 'r1-restarted', 30 * DAY);
    await before.lifecycle.release();
    await after.lifecycle.tick();
    const states = await store.listKeyStates();
    expect(
      states.filter((record) => record.state === 'active').map((record) => record.kid),
    ).toEqual([active]);
    expect(states.find((record) => record.kid !== active)).toMatchObject({
      state: 'pending',
      publishedAt: now,
    });
  });
});

describe('keys.create: which versions the lifecycle makes itself', () => {
  let dir: string;
  let now: number;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'wfid-create-'));
    now = Date.UTC(2026, 0, 1);
  });
  afterEach(() => rm(dir, { recursive: true, force: true }));

  function lifecycleWith(create: 'never' | 'first' | 'always') {
    const backend = new FileBackend(dir, 'ES256');
    const ring = new KeyRing(backend, { logger });
    const store = new MemoryKeyStateStore();
    const lifecycle = new KeyLifecycle({
      ring,
      store,
      times,
      everyMs: 30 * DAY,
      create,
      disableRetired: false,
      holder: create,
      leaseMs: 60_000,
      logger,
      now: () => now,
    });
    return { backend, ring, store, lifecycle };
  }
  const versions = async () => (await new FileBackend(dir, 'ES256').listKeys()).length;

  it('never: refuses to start on an empty backend, signs with a version made outside, makes none at rotation', async () => {
    const { backend, ring, lifecycle } = lifecycleWith('never');
    const error = await lifecycle.start().catch((err) => err);
    expect(error).toMatchObject({ code: 'ERR_CONFIG' });
    expect(error.message).toContain('keys.create is never');
    expect(await versions()).toBe(0);
    await backend.createKey(); // the security team's version
    await lifecycle.start();
    const team = ring.signingKey().kid;
    now += 40 * DAY;
    await lifecycle.tick();
    expect(await versions()).toBe(1);
    expect(ring.signingKey().kid).toBe(team);
  });

  it('first: makes the first version and a replacement when none is usable, none at rotation', async () => {
    const { ring, store, lifecycle } = lifecycleWith('first');
    await lifecycle.start();
    expect(await versions()).toBe(1);
    const first = ring.signingKey().kid;
    now += 40 * DAY;
    await lifecycle.tick();
    expect(await versions()).toBe(1);
    await retireKey(store, first, { now: true, at: now }); // compromise: nothing usable is left
    await lifecycle.tick();
    expect(await versions()).toBe(2);
    expect(ring.signingKey().kid).not.toBe(first);
  });

  it('always: also prepares each rotation next version a lead time ahead', async () => {
    const { ring, lifecycle } = lifecycleWith('always');
    await lifecycle.start();
    const first = ring.signingKey().kid;
    now += 29 * DAY;
    await lifecycle.tick();
    expect(await versions()).toBe(2);
    expect(ring.signingKey().kid).toBe(first);
    now += DAY;
    await lifecycle.tick();
    expect(ring.signingKey().kid).not.toBe(first);
  });
});
