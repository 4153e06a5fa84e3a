import { getListFromStatusListJWT } from '@sd-jwt/jwt-status-list';
import { describe, expect, it } from 'vitest';
import { ExecutionRegistry } from '../../src/executions/registry.js';
import { STATUS_BLOCK_MAX_AGE_MS } from '../../src/executions/status-entries.js';
import { MemoryStore } from '../../src/executions/stores/memory.js';
import { verifySignature } from '../../src/jws/compact.js';
import { decodeCompact, decodeJsonSegment } from '../../src/jws/decode-compact.js';
import { encodeStatusBits, statusAt } from '../../src/tokens/status-bits.js';
import { StatusListIssuer, statusListRetirementMs } from '../../src/tokens/status-list.js';
import { oneKeyRing } from './fake-backend.js';

const ENGINE = { name: 'default' };

const ISSUER = 'https://id.example.com';

async function setup(size = 16, retireAfterMs = 3_600_000) {
  let now = Date.UTC(2026, 10, 30, 9, 0, 0);
  const { ring, publicKey } = await oneKeyRing();
  const store = new MemoryStore();
  const clock = () => now;
  const registry = new ExecutionRegistry(store, {
    maxDurationMs: 3_600_000,
    maxWaitMs: 86_400_000,
    retentionMs: 600_000,
    statusListSize: size,
    now: clock,
  });
  const lists = new StatusListIssuer({
    ring,
    store: store.statusLists,
    issuer: ISSUER,
    ttlMs: 30_000,
    lifetimeMs: 300_000,
    retireAfterMs,
    settleAfterMs: 65_000,
    now: clock,
  });
  return { ring, publicKey, registry, lists, advance: (ms: number) => (now += ms), clock };
}

describe('status list bits', () => {
  it('match the draft example: 16 entries, least significant bit first, 0xB9 0xA3', () => {
    // draft-ietf-oauth-status-list §4.1: status[i] = 1,0,0,1,1,1,0,1, 1,1,0,0,0,1,0,1
    const valid = [1, 2, 6, 10, 11, 12, 14];
    const bytes = encodeStatusBits(16, valid);
    expect([...bytes]).toEqual([0xb9, 0xa3]);
    for (let idx = 0; idx < 16; idx++)
      expect(statusAt(bytes, idx)).toBe(valid.includes(idx) ? 0 : 1);
    expect(statusAt(bytes, 16)).toBeUndefined();
    expect(statusAt(bytes, -1)).toBeUndefined();
  });
});

describe('StatusListIssuer', () => {
  it('signs a statuslist+jwt whose entries are VALID while running and INVALID once ended or past the deadline', async () => {
    const { publicKey, registry, lists, ring, advance } = await setup();
    const running = await registry.start(ENGINE, { executionId: 'run', workflowId: 'w' });
    const ended = await registry.start(ENGINE, { executionId: 'end', workflowId: 'w' });
    const short = await registry.start(ENGINE, {
      executionId: 'short',
      workflowId: 'w',
      maxDurationS: 1,
    });
    await registry.end(ENGINE, 'end', 'canceled');
    const list = running.record.statusEntry!.list;

    const token = (await lists.token(list))!;
    const parsed = decodeCompact(token);
    expect(verifySignature('ES256', publicKey, parsed.signingInput, parsed.signature)).toBe(true);
    expect(decodeJsonSegment(parsed.encodedHeader, 'header')).toEqual({
      alg: 'ES256',
      kid: ring.signingKey().kid,
      typ: 'statuslist+jwt',
    });
    const iat = parsed.payload.iat as number;
    expect(parsed.payload).toMatchObject({
      iss: ISSUER,
      sub: `${ISSUER}/v1/status-lists/${list}`,
      exp: iat + 300,
      ttl: 30,
      status_list: { bits: 1 },
    });
    // An implementation of the draft (npm @sd-jwt/jwt-status-list) decodes what we encode.
    const decoded = getListFromStatusListJWT(token);
    expect(decoded.getStatus(running.record.statusEntry!.idx)).toBe(0);
    expect(decoded.getStatus(short.record.statusEntry!.idx)).toBe(0);
    expect(decoded.getStatus(ended.record.statusEntry!.idx)).toBe(1);
    // Entries never allocated are INVALID too.
    expect(decoded.getStatus(15)).toBe(1);
    expect(decoded.statusList.length).toBe(16);

    advance(1_000);
    const later = getListFromStatusListJWT((await lists.token(list))!);
    expect(later.getStatus(short.record.statusEntry!.idx)).toBe(1);
    expect(later.getStatus(running.record.statusEntry!.idx)).toBe(0);
  });

  it('serves a built list for at most a second, and sees an end at the next build', async () => {
    const { registry, lists, advance } = await setup();
    const started = await registry.start(ENGINE, { executionId: 'e', workflowId: 'w' });
    const { list } = started.record.statusEntry!;
    const first = await lists.token(list);
    await registry.end(ENGINE, 'e', 'success');
    advance(999);
    expect(await lists.token(list)).toBe(first);
    advance(1);
    const rebuilt = (await lists.token(list))!;
    expect(getListFromStatusListJWT(rebuilt).getStatus(started.record.statusEntry!.idx)).toBe(1);
  });

  it('signs a list that can still change at every build, a settled one once per half lifetime', async () => {
    const { registry, lists, advance } = await setup(8);
    const { list } = (await registry.start(ENGINE, { executionId: 'e0', workflowId: 'w' })).record
      .statusEntry!;
    for (let index = 1; index < 8; index++) {
      await registry.start(ENGINE, { executionId: `e${index}`, workflowId: 'w' });
    }
    for (let index = 0; index < 8; index++) await registry.end(ENGINE, `e${index}`, 'success');
    // All ended, but the list is still the newest: an entry may yet be handed out.
    const open = await lists.token(list);
    advance(1_000);
    const reopened = await lists.token(list);
    expect(reopened).not.toBe(open);
    // The next list opens; a minute plus the clock skew later no replica can hand out an entry
    // of this one, and nothing in it runs: it is settled, and signed once per half lifetime.
    await registry.start(ENGINE, { executionId: 'e8', workflowId: 'w' });
    advance(64_000);
    expect(await lists.token(list)).not.toBe(reopened);
    advance(1_000);
    const settled = await lists.token(list);
    advance(1_000);
    expect(await lists.token(list)).toBe(settled);
    advance(148_999);
    expect(await lists.token(list)).toBe(settled);
    advance(1_000);
    const resigned = (await lists.token(list))!;
    expect(resigned).not.toBe(settled);
    expect(getListFromStatusListJWT(resigned).getStatus(0)).toBe(1);
    // The newest list, with e8 running, is signed at every build.
    const newest = await lists.token(list + 1);
    advance(1_000);
    expect(await lists.token(list + 1)).not.toBe(newest);
  });

  it('shares one build among concurrent requests, and answers undefined for a list never opened', async () => {
    const { registry, lists } = await setup();
    const { list } = (await registry.start(ENGINE, { executionId: 'e', workflowId: 'w' })).record
      .statusEntry!;
    const [a, b] = await Promise.all([lists.token(list), lists.token(list)]);
    expect(a).toBe(b);
    expect(await lists.token(list + 1)).toBeUndefined();
  });

  it('aggregates the lists a valid token can still name', async () => {
    const { registry, lists, advance } = await setup(8);
    const { list } = (await registry.start(ENGINE, { executionId: 'e0', workflowId: 'w' })).record
      .statusEntry!;
    for (let index = 1; index < 9; index++) {
      await registry.start(ENGINE, { executionId: `e${index}`, workflowId: 'w' });
    }
    expect(await lists.aggregation()).toEqual([
      `${ISSUER}/v1/status-lists/${list}`,
      `${ISSUER}/v1/status-lists/${list + 1}`,
    ]);
    // Read at most once a second: a list opened now shows in the next second's answer.
    await registry.start(ENGINE, { executionId: 'e9', workflowId: 'w' });
    for (let index = 10; index < 16; index++) {
      await registry.start(ENGINE, { executionId: `e${index}`, workflowId: 'w' });
    }
    await registry.start(ENGINE, { executionId: 'e16', workflowId: 'w' });
    expect(await lists.aggregation()).toHaveLength(2);
    advance(1_000);
    expect(await lists.aggregation()).toHaveLength(3);
    // Lists 0 and 1 stopped taking entries when the next opened; after the longest execution
    // (plus skew) no valid token can name them.
    advance(3_600_001);
    expect(await lists.aggregation()).toEqual([`${ISSUER}/v1/status-lists/${list + 2}`]);
  });

  it("aggregates a list while a token minted at its last execution's deadline is still valid", async () => {
    const hour = 3_600_000;
    const retireAfterMs = statusListRetirementMs({
      blockAgeMs: STATUS_BLOCK_MAX_AGE_MS,
      maxDurationMs: hour,
      maxTokenLifetimeMs: hour,
      clockSkewMs: 300_000,
    });
    const { registry, lists, advance } = await setup(8, retireAfterMs);
    const { list } = (await registry.start(ENGINE, { executionId: 'e0', workflowId: 'w' })).record
      .statusEntry!;
    for (let index = 1; index < 8; index++) {
      await registry.start(ENGINE, { executionId: `e${index}`, workflowId: 'w' });
    }
    // The ninth opens the next list; e7, registered just before, runs for an hour, and a token
    // minted a moment before its deadline names the first list for an hour more.
    await registry.start(ENGINE, { executionId: 'e8', workflowId: 'w' });
    const first = `${ISSUER}/v1/status-lists/${list}`;
    advance(2 * hour - 1_000);
    expect(await lists.aggregation()).toContain(first);
    advance(retireAfterMs - 2 * hour + 1_000);
    expect(await lists.aggregation()).not.toContain(first);
  });
});
