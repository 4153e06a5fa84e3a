/** The token file writer's refresh schedule, driven by a fake clock and real files. */
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { IssuerError, isPermanentFailure } from '../../integrations/n8n/src/client/issuer-error.js';
import type { Clock } from '../../integrations/n8n/src/token-file/clock.js';
import { googleExternalAccount } from '../../integrations/n8n/src/token-file/google-credentials.js';
import {
  expiresAtToMs,
  type FileToken,
  TokenFileWriter,
} from '../../integrations/n8n/src/token-file/token-file-writer.js';

/** Timers fire only when the test advances time. */
class FakeClock implements Clock {
  time = Date.parse('2026-01-01T00:00:00Z');
  private timers: Array<{ at: number; callback: () => void; id: number }> = [];
  private nextId = 0;

  now = () => this.time;
  setTimeout = (callback: () => void, delayMs: number) => {
    const id = ++this.nextId;
    this.timers.push({ at: this.time + delayMs, callback, id });
    return id;
  };
  clearTimeout = (handle: unknown) => {
    this.timers = this.timers.filter((timer) => timer.id !== handle);
  };
  get pending(): number[] {
    return this.timers.map((timer) => timer.at - this.time);
  }
  advance(ms: number): void {
    this.time += ms;
    const due = this.timers.filter((timer) => timer.at <= this.time);
    this.timers = this.timers.filter((timer) => timer.at > this.time);
    for (const timer of due) timer.callback();
  }
}

let dir: string;
let clock: FakeClock;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'wfid-token-file-'));
  clock = new FakeClock();
});
afterEach(() => rm(dir, { recursive: true, force: true }));

/** Mints `t1`, `t2`, ... each valid for `lifetimeMs` from the fake now. */
function minter(lifetimeMs = 600_000) {
  let count = 0;
  return vi.fn(
    async (): Promise<FileToken> => ({
      value: `t${++count}`,
      expiresAtMs: clock.now() + lifetimeMs,
    }),
  );
}

describe('TokenFileWriter', () => {
  it('writes the first token at start, mode 0600, and refreshes it when two thirds of its lifetime have passed', async () => {
    const mint = minter();
    const path = join(dir, 'sub', 'token.jwt');
    const writer = new TokenFileWriter({ path, mint, clock });
    await writer.start();
    expect(await readFile(path, 'utf8')).toBe('t1');
    expect((await stat(path)).mode & 0o777).toBe(0o600);
    expect(clock.pending).toEqual([400_000]);

    clock.advance(399_999);
    expect(mint).toHaveBeenCalledTimes(1);
    clock.advance(1);
    await vi.waitFor(async () => expect(await readFile(path, 'utf8')).toBe('t2'));
    expect(mint).toHaveBeenCalledTimes(2);
    // The next refresh is scheduled from the new token's expiry.
    await vi.waitFor(() => expect(clock.pending).toEqual([400_000]));
    await writer.stop();
  });

  it('retries a failed refresh with growing delays and keeps the last good token meanwhile', async () => {
    let fail = 0;
    const good = minter();
    const mint = vi.fn(async () => {
      if (mint.mock.calls.length > 1 && fail-- > 0)
        throw new IssuerError('unreachable', 'issuer unreachable');
      return good();
    });
    const errors: unknown[] = [];
    const path = join(dir, 'token.jwt');
    const writer = new TokenFileWriter({
      path,
      mint,
      clock,
      onError: (error) => errors.push(error),
    });
    fail = 3;
    await writer.start();
    clock.advance(400_000);
    await vi.waitFor(() => expect(clock.pending).toEqual([1_000]));
    clock.advance(1_000);
    await vi.waitFor(() => expect(clock.pending).toEqual([2_000]));
    clock.advance(2_000);
    await vi.waitFor(() => expect(clock.pending).toEqual([4_000]));
    expect(await readFile(path, 'utf8')).toBe('t1');
    clock.advance(4_000);
    await vi.waitFor(async () => expect(await readFile(path, 'utf8')).toBe('t2'));
    expect(errors).toHaveLength(3);
    await vi.waitFor(() => expect(clock.pending).toEqual([400_000]));
    await writer.stop();
  });

  it('stops and removes the file when the issuer refuses for good (the execution ended)', async () => {
    let ended = false;
    const good = minter();
    const mint = vi.fn(async () => {
      if (ended) throw new IssuerError('invalid_token', 'POST /v1/token: 401', { status: 401 });
      return good();
    });
    const path = join(dir, 'token.jwt');
    const writer = new TokenFileWriter({ path, mint, clock, isPermanent: isPermanentFailure });
    await writer.start();
    ended = true;
    clock.advance(400_000);
    await vi.waitFor(() => expect(stat(path)).rejects.toMatchObject({ code: 'ENOENT' }));
    expect(writer.running).toBe(false);
    expect(clock.pending).toEqual([]);
  });

  it('stop clears the refresh and removes the file unless told to keep it', async () => {
    const path = join(dir, 'token.jwt');
    const writer = new TokenFileWriter({ path, mint: minter(), clock });
    await writer.start();
    await writer.stop({ keepFile: true });
    expect(clock.pending).toEqual([]);
    expect(await readFile(path, 'utf8')).toBe('t1');
    const second = new TokenFileWriter({ path, mint: minter(), clock });
    await second.start();
    await second.stop();
    await expect(stat(path)).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it('propagates a failure of the first mint and schedules nothing', async () => {
    const writer = new TokenFileWriter({
      path: join(dir, 'token.jwt'),
      mint: async () => {
        throw new IssuerError('unreachable', 'issuer unreachable');
      },
      clock,
    });
    await expect(writer.start()).rejects.toMatchObject({ code: 'unreachable' });
    expect(clock.pending).toEqual([]);
  });

  it('refuses a refresh share outside (0, 1)', () => {
    for (const refreshAfter of [0, 1, 1.5]) {
      expect(() => new TokenFileWriter({ path: 'x', mint: minter(), refreshAfter })).toThrow(
        RangeError,
      );
    }
  });
});

describe('token file helpers', () => {
  it('reads expires_at as epoch seconds (the issuer) or ISO 8601', () => {
    expect(expiresAtToMs(1_767_225_600)).toBe(Date.parse('2026-01-01T00:00:00Z'));
    expect(expiresAtToMs('2026-01-01T00:00:00Z')).toBe(Date.parse('2026-01-01T00:00:00Z'));
  });

  it('classifies 4xx (except 429) as permanent, 5xx, 429 and no answer as retryable', () => {
    expect(isPermanentFailure(new IssuerError('invalid_token', 'x', { status: 401 }))).toBe(true);
    expect(isPermanentFailure(new IssuerError('invalid_request', 'x', { status: 400 }))).toBe(true);
    expect(isPermanentFailure(new IssuerError('rate_limited', 'x', { status: 429 }))).toBe(false);
    expect(
      isPermanentFailure(new IssuerError('temporarily_unavailable', 'x', { status: 503 })),
    ).toBe(false);
    expect(isPermanentFailure(new IssuerError('unreachable', 'x'))).toBe(false);
    expect(isPermanentFailure(new Error('x'))).toBe(false);
  });

  it('describes a Google external account that reads the token file', () => {
    const audience =
      '//iam.googleapis.com/projects/1/locations/global/workloadIdentityPools/p/providers/n8n';
    expect(
      googleExternalAccount({
        audience,
        tokenFile: '/run/wfid/gcp.jwt',
        serviceAccountEmail: 'n8n@p.iam.gserviceaccount.com',
      }),
    ).toEqual({
      type: 'external_account',
      audience,
      subject_token_type: 'urn:ietf:params:oauth:token-type:jwt',
      token_url: 'https://sts.googleapis.com/v1/token',
      credential_source: { file: '/run/wfid/gcp.jwt', format: { type: 'text' } },
      service_account_impersonation_url:
        'https://iamcredentials.googleapis.com/v1/projects/-/serviceAccounts/n8n%40p.iam.gserviceaccount.com:generateAccessToken',
    });
  });
});
