/**
 * The guides, run from their Markdown (test/docs/runner.ts): the README's five minutes, each
 * backend guide that can run here, and the OpenBao exchange recipe. Each test starts the peers
 * its guide names and gives their addresses, a free port and a temp data directory as
 * environment; everything else is the guide's own commands, in order, in one bash session.
 */
import { execFileSync } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { ListAliasesCommand } from '@aws-sdk/client-kms';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startIssuer } from '../e2e/harness.js';
import { startLocalStack } from '../peers/localstack.js';
import { freePort } from '../peers/net.js';
import { findBao, startOpenBao } from '../peers/openbao.js';
import { startSoftHsm } from '../peers/softhsm.js';
import { ROOT, runGuide } from './runner.js';

const GUIDE_TIMEOUT_MS = 180_000;
const cleanups: (() => Promise<void>)[] = [];

beforeAll(() => {
  // Guides run the built CLI (`npm start`, `npm run wfid`), as a reader would after `npm ci`.
  execFileSync('npm', ['run', '-s', 'build'], { cwd: ROOT, stdio: 'inherit' });
}, 120_000);

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function scratch(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'wfid-docs-'));
  cleanups.push(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

/** Runs a guide and fails with where it broke and what it printed. */
async function expectGuideRuns(file: string, env: Record<string, string>, dir: string) {
  const run = await runGuide(file, { env, dir, timeoutMs: GUIDE_TIMEOUT_MS - 10_000 });
  if (run.code !== 0) {
    const where = run.failedAt ?? 'an unknown line (timed out or killed)';
    // The guides log the issuer they start into its data directory.
    const log = await readFile(join(dir, 'data/issuer.log'), 'utf8').catch(() => '(none)');
    throw new Error(
      `${file} failed at ${where} (exit ${run.code}):\n${run.output.slice(-6000)}\n--- issuer.log:\n${log.slice(-3000)}`,
    );
  }
  return run;
}

/** The issuer's own environment every guide that starts one needs: a data dir and a port. */
async function issuerEnv(dir: string): Promise<Record<string, string>> {
  return { WFID_DATA_DIR: join(dir, 'data'), WFID_PORT: String(await freePort()) };
}

describe('guides run as written', () => {
  it(
    'README: five minutes',
    async () => {
      const dir = await scratch();
      const run = await expectGuideRuns('README.md', await issuerEnv(dir), dir);
      expect(run.output).toContain('"valid": true');
    },
    GUIDE_TIMEOUT_MS,
  );

  it(
    'Transit backend: step by step on OpenBao',
    async () => {
      const dir = await scratch();
      const bao = await startOpenBao();
      cleanups.push(() => bao.close());
      await expectGuideRuns(
        'docs/backends/vault-transit.md',
        { ...(await issuerEnv(dir)), ...baoEnv(bao) },
        dir,
      );
    },
    GUIDE_TIMEOUT_MS,
  );

  it(
    'OpenBao exchange recipe: JWT login, a certificate that names only the workflow',
    async () => {
      const dir = await scratch();
      const bao = await startOpenBao();
      cleanups.push(() => bao.close());
      const issuer = await startIssuer();
      cleanups.push(() => issuer.stop());
      const run = await expectGuideRuns(
        'docs/recipes/openbao-exchange.md',
        {
          ...baoEnv(bao),
          ISSUER: issuer.url,
          WFID_ENGINE_TOKEN: issuer.engineToken,
          WFID_DATA_DIR: join(dir, 'data'),
        },
        dir,
      );
      expect(run.output).toContain('subject=CN = wf-billing');
      expect(run.output).toContain('URI:spiffe://example.org/workflow/wf-billing');
    },
    GUIDE_TIMEOUT_MS,
  );

  it(
    'AWS KMS backend: the issuer on LocalStack',
    async () => {
      const dir = await scratch();
      const localstack = await startLocalStack();
      cleanups.push(() => localstack.close());
      await expectGuideRuns(
        'docs/backends/aws-kms.md',
        { ...(await issuerEnv(dir)), LOCALSTACK: `127.0.0.1:${localstack.port}` },
        dir,
      );
      // The key the guide's issuer made is in this LocalStack, behind the guide's alias.
      const { Aliases } = await localstack.kms.send(new ListAliasesCommand({}));
      expect(Aliases?.find((alias) => alias.AliasName === 'alias/wfid')?.TargetKeyId).toBeTruthy();
    },
    GUIDE_TIMEOUT_MS,
  );

  it(
    'PKCS#11 backend: HSM setup on SoftHSM2',
    async () => {
      const dir = await scratch();
      const hsm = await startSoftHsm([]);
      cleanups.push(() => rm(hsm.dir, { recursive: true, force: true }));
      await expectGuideRuns(
        'docs/backends/pkcs11.md',
        {
          ...(await issuerEnv(dir)),
          ...hsm.env,
          MODULE: hsm.module,
          PIN_FILE: join(dir, 'secrets/hsm-pin'),
        },
        dir,
      );
    },
    GUIDE_TIMEOUT_MS,
  );
});

/** The `bao` CLI on PATH, and the server the guide talks to with a token that may set it up. */
function baoEnv(bao: { address: string; rootToken: string }): Record<string, string> {
  return {
    PATH: `${dirname(findBao())}:${process.env.PATH ?? ''}`,
    BAO_ADDR: bao.address,
    BAO_TOKEN: bao.rootToken,
  };
}
