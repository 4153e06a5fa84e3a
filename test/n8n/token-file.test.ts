/** The token file writer's refresh schedule, driven by a fake clock and real files. */
import {
  lstat,
  mkdir,
  mkdtemp,
  readdir,
  readFile,
  rm,
  stat,
  symlink,
  writeFile,
} from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { IssuerError, isPermanentFailure } from '../../integrations/n8n/src/client/issuer-error.js';
import type { Clock } from '../../integrations/n8n/src/token-file/clock.js';
import { googleExternalAccount } from '../../integrations/n8n/src/token-file/google-credentials.js';
import { TokenDir } from '../../integrations/n8n/src/token-file/token-dir.js';
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
let tokenDir: TokenDir;
let clock: FakeClock;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'wfid-token-file-'));
  tokenDir = await TokenDir.open(dir, {});
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
    const path = join(dir, '42.jwt');
    const writer = new TokenFileWriter({ dir: tokenDir, executionId: '42', mint, clock });
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
    const path = join(dir, '42.jwt');
    const writer = new TokenFileWriter({
      dir: tokenDir,
      executionId: '42',
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
    const path = join(dir, '42.jwt');
    const writer = new TokenFileWriter({
      dir: tokenDir,
      executionId: '42',
      mint,
      clock,
      isPermanent: isPermanentFailure,
    });
    await writer.start();
    ended = true;
    clock.advance(400_000);
    await vi.waitFor(() => expect(stat(path)).rejects.toMatchObject({ code: 'ENOENT' }));
    expect(writer.running).toBe(false);
    expect(clock.pending).toEqual([]);
  });

  it('stop clears the refresh and removes the file unless told to keep it', async () => {
    const path = join(dir, '42.jwt');
    const writer = new TokenFileWriter({ dir: tokenDir, executionId: '42', mint: minter(), clock });
    await writer.start();
    await writer.stop({ keepFile: true });
    expect(clock.pending).toEqual([]);
    expect(await readFile(path, 'utf8')).toBe('t1');
    const second = new TokenFileWriter({ dir: tokenDir, executionId: '42', mint: minter(), clock });
    await second.start();
    await second.stop();
    await expect(stat(path)).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it('propagates a failure of the first mint and schedules nothing', async () => {
    const writer = new TokenFileWriter({
      dir: tokenDir,
      executionId: '42',
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
      expect(
        () =>
          new TokenFileWriter({ dir: tokenDir, executionId: '42', mint: minter(), refreshAfter }),
      ).toThrow(RangeError);
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

describe('TokenDir (token files confined to the operator’s directory)', () => {
  it('replaces a symlink planted under an execution’s name without touching its target, and removes only the link', async () => {
    const outside = await mkdtemp(join(tmpdir(), 'wfid-victim-'));
    try {
      const victim = join(outside, 'config');
      await writeFile(victim, 'encryption key');
      await symlink(victim, join(dir, '42.jwt'));
      await tokenDir.write('42', 'token-1');
      expect(await readFile(victim, 'utf8')).toBe('encryption key');
      expect((await lstat(join(dir, '42.jwt'))).isFile()).toBe(true);
      expect(await readFile(join(dir, '42.jwt'), 'utf8')).toBe('token-1');

      await symlink(victim, join(dir, '43.jwt'));
      await tokenDir.remove('43');
      expect(await readFile(victim, 'utf8')).toBe('encryption key');
      await expect(lstat(join(dir, '43.jwt'))).rejects.toMatchObject({ code: 'ENOENT' });
    } finally {
      await rm(outside, { recursive: true, force: true });
    }
  });

  it('refuses execution ids that are not plain names, creating nothing', async () => {
    for (const id of ['../42', '/etc/passwd', '42/../../x', '..', '', '4 2', 'a'.repeat(65)]) {
      await expect(tokenDir.write(id, 'x'), id).rejects.toThrow(/not a plain name/);
    }
    expect(await readdir(dir)).toEqual([]);
    expect(await readdir(join(dir, '..'))).not.toContain('x');
  });

  it('one execution’s writer never touches another’s file', async () => {
    const first = new TokenFileWriter({ dir: tokenDir, executionId: '42', mint: minter(), clock });
    const second = new TokenFileWriter({ dir: tokenDir, executionId: '43', mint: minter(), clock });
    await first.start();
    await second.start();
    await second.stop();
    expect(await readFile(join(dir, '42.jwt'), 'utf8')).toBe('t1');
    expect(await readdir(dir)).toEqual(['42.jwt']);
    await first.stop();
  });

  it('refuses a directory that is a symlink, relative, missing, or swapped after the check', async () => {
    const link = `${dir}-link`;
    await symlink(dir, link);
    try {
      await expect(TokenDir.open(link, {})).rejects.toThrow(/not a symlink/);
    } finally {
      await rm(link, { force: true });
    }
    await expect(TokenDir.open('run/wfid', {})).rejects.toThrow(/absolute/);
    await expect(TokenDir.open(join(dir, 'missing'), {})).rejects.toThrow(/does not exist/);

    const swapped = await mkdtemp(join(tmpdir(), 'wfid-swap-'));
    const elsewhere = await mkdtemp(join(tmpdir(), 'wfid-elsewhere-'));
    try {
      const checked = await TokenDir.open(swapped, {});
      await rm(swapped, { recursive: true });
      await symlink(elsewhere, swapped);
      await expect(checked.write('42', 'x')).rejects.toThrow(/changed since/);
      expect(await readdir(elsewhere)).toEqual([]);
    } finally {
      await rm(swapped, { recursive: true, force: true });
      await rm(elsewhere, { recursive: true, force: true });
    }
  });

  it('refuses a directory n8n’s file nodes can read (any workflow would read every execution’s token)', async () => {
    const readable = /n8n’s file nodes \(Read\/Write Files from Disk\) can read it/;
    // Allowed to file nodes, as N8N_RESTRICT_FILE_ACCESS_TO or with no restriction at all.
    await expect(
      TokenDir.open(dir, { N8N_RESTRICT_FILE_ACCESS_TO: `/nowhere; ${join(dir, '..')}` }),
    ).rejects.toThrow(readable);
    await expect(TokenDir.open(dir, { N8N_RESTRICT_FILE_ACCESS_TO: '' })).rejects.toThrow(readable);
    // Outside the allowed paths (n8n's default ~/.n8n-files included): file nodes cannot read it.
    await expect(
      TokenDir.open(dir, { N8N_RESTRICT_FILE_ACCESS_TO: '/nowhere;/srv/files' }),
    ).resolves.toBeInstanceOf(TokenDir);
    await expect(TokenDir.open(dir, {})).resolves.toBeInstanceOf(TokenDir);
    // n8n's own folder and blocked patterns are out of the file nodes' reach too.
    const n8nFolder = join(dir, '.n8n');
    await mkdir(n8nFolder);
    await expect(
      TokenDir.open(n8nFolder, { N8N_USER_FOLDER: dir, N8N_RESTRICT_FILE_ACCESS_TO: '' }),
    ).resolves.toBeInstanceOf(TokenDir);
    await expect(
      TokenDir.open(n8nFolder, {
        N8N_USER_FOLDER: dir,
        N8N_RESTRICT_FILE_ACCESS_TO: '',
        N8N_BLOCK_FILE_ACCESS_TO_N8N_FILES: 'false',
      }),
    ).rejects.toThrow(readable);
    await expect(
      TokenDir.open(dir, { N8N_RESTRICT_FILE_ACCESS_TO: '', N8N_BLOCK_FILE_PATTERNS: '\\.jwt$' }),
    ).resolves.toBeInstanceOf(TokenDir);
  });
});
