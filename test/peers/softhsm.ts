/**
 * SoftHSM2 tokens in a temp directory, for the pkcs11 backend tests and bench.
 *
 * SoftHSM2 reads SOFTHSM2_CONF once, at C_Initialize, in the process that loads it: call
 * startSoftHsm before anything in this process initialises the module, and pass `env` to
 * child processes (pkcs11-tool, `wfid serve`). All tokens are made up front for the same
 * reason: slots are enumerated when the library initialises.
 */
import { execFile } from 'node:child_process';
import { randomInt } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** Debian's path (package softhsm2); SOFTHSM2_MODULE overrides it for other systems. */
export const SOFTHSM_MODULE = process.env.SOFTHSM2_MODULE ?? '/usr/lib/softhsm/libsofthsm2.so';

export interface SoftHsmToken {
  label: string;
  pin: string;
  soPin: string;
}

export interface SoftHsm {
  dir: string;
  /** Path of the SoftHSM2 config file (directories.tokendir inside `dir`). */
  conf: string;
  module: string;
  /** Environment a child process needs to see these tokens. */
  env: { SOFTHSM2_CONF: string };
  token(label: string): SoftHsmToken;
  /** Writes the token's user PIN to a 0600 file and returns its path (for pin-source=file:). */
  pinFile(label: string): Promise<string>;
  /** `pkcs11:token=…;object=…?module-path=…` plus extra query attributes. */
  uri(label: string, object: string, query?: Record<string, string>): string;
  /** Runs OpenSC's pkcs11-tool against this SoftHSM, logged in to the token. */
  tool(label: string, args: string[]): Promise<string>;
  stop(): Promise<void>;
}

export async function startSoftHsm(labels: string[]): Promise<SoftHsm> {
  if (!existsSync(SOFTHSM_MODULE)) {
    throw new Error(
      `SoftHSM2 is not installed (${SOFTHSM_MODULE} is missing): run test/peers/install/pkcs11.sh as root`,
    );
  }
  const dir = await mkdtemp(join(tmpdir(), 'wfid-softhsm-'));
  const tokens = join(dir, 'tokens');
  await mkdir(tokens, { mode: 0o700 });
  const conf = join(dir, 'softhsm2.conf');
  await writeFile(
    conf,
    `directories.tokendir = ${tokens}\nobjectstore.backend = file\nlog.level = ERROR\nslots.removable = false\n`,
  );
  const env = { SOFTHSM2_CONF: conf };
  // The library in this very process reads it at C_Initialize.
  process.env.SOFTHSM2_CONF = conf;

  const made = new Map<string, SoftHsmToken>();
  for (const label of labels) {
    const token = { label, pin: digits(8), soPin: digits(10) };
    try {
      await run(
        'softhsm2-util',
        ['--init-token', '--free', '--label', label, '--so-pin', token.soPin, '--pin', token.pin],
        { env: { ...process.env, ...env } },
      );
    } catch (err) {
      await rm(dir, { recursive: true, force: true });
      const missing = (err as NodeJS.ErrnoException).code === 'ENOENT';
      throw new Error(
        missing
          ? 'softhsm2-util is not installed: run test/peers/install/pkcs11.sh as root'
          : `softhsm2-util --init-token failed: ${(err as Error).message}`,
      );
    }
    made.set(label, token);
  }

  const token = (label: string): SoftHsmToken => {
    const found = made.get(label);
    if (!found) throw new Error(`no SoftHSM token ${label} in this test setup`);
    return found;
  };
  return {
    dir,
    conf,
    module: SOFTHSM_MODULE,
    env,
    token,
    async pinFile(label) {
      const path = join(dir, `${label}.pin`);
      await writeFile(path, `${token(label).pin}\n`, { mode: 0o600 });
      return path;
    },
    uri(label, object, query = {}) {
      const attributes = new URLSearchParams({ 'module-path': SOFTHSM_MODULE, ...query });
      // RFC 7512 percent-encodes; URLSearchParams would turn '/' into %2F, which is also valid.
      return `pkcs11:token=${encodeURIComponent(label)};object=${encodeURIComponent(object)}?${attributes}`;
    },
    async tool(label, args) {
      const { stdout } = await run(
        'pkcs11-tool',
        [
          '--module',
          SOFTHSM_MODULE,
          '--token-label',
          label,
          '--login',
          '--pin',
          token(label).pin,
          ...args,
        ],
        { env: { ...process.env, ...env } },
      );
      return stdout;
    },
    async stop() {
      await rm(dir, { recursive: true, force: true });
    },
  };
}

function digits(count: number): string {
  return Array.from({ length: count }, () => randomInt(10)).join('');
}
