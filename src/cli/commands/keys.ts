import { createInterface } from 'node:readline/promises';
import type { Command } from 'commander';
import { auditedKeyStates } from '../../audit/key-states.js';
import type { Config } from '../../config/schema.js';
import { keyTimes } from '../../config/times.js';
import { WfidError } from '../../errors.js';
import type { ExecutionStore } from '../../executions/store.js';
import { openStore } from '../../executions/stores/open.js';
import { auditTrail, keyLifecycle } from '../../issuer.js';
import { toPublicJwk } from '../../jws/jwk.js';
import type { KeyBackend } from '../../keys/backend.js';
import type { KeyLifecycle } from '../../keys/lifecycle.js';
import { openBackend } from '../../keys/open.js';
import { activateKey, retireKey } from '../../keys/operations.js';
import { scheduleOf } from '../../keys/plan.js';
import { KeyRing } from '../../keys/ring.js';
import type { KeyStateStore } from '../../keys/states.js';
import { cliLogger, configOf, issuerUrl, print, withoutSecrets } from '../common.js';

interface Opened {
  config: Config;
  store: ExecutionStore;
  /** The store's key states, recording operator changes in the audit trail. */
  keyStates: KeyStateStore;
  ring: KeyRing;
  lifecycle: KeyLifecycle;
  close(): Promise<void>;
}

/**
 * The backend, store and key states as the server sees them (the server may be running). The
 * CLI never makes a first key: a shell without the server's settings would otherwise make one in
 * the default backend and describe keys no issuer publishes. Stderr says what is described.
 */
async function open(command: Command): Promise<Opened> {
  const config = configOf(command);
  process.stderr.write(
    `wfid: keys of ${withoutSecrets(config.keys.uri)} (store ${withoutSecrets(config.store)}, issuer ${config.issuer})\n`,
  );
  const store = await openStore(config.store);
  const backend = await openBackend(config, cliLogger).catch(async (err: unknown) => {
    await store.close();
    throw err;
  });
  await refuseAnotherBackend(config, store, backend).catch(async (err: unknown) => {
    await backend.close?.();
    await store.close();
    throw err;
  });
  const audit = auditTrail(config, store, cliLogger);
  const ring = new KeyRing(backend, { logger: cliLogger });
  const lifecycle = keyLifecycle(config, store, ring, cliLogger, { audit, create: 'never' });
  await lifecycle.tick();
  const close = async () => {
    await lifecycle.release();
    await ring.close();
    await audit.close();
    await store.close();
  };
  const keyStates = auditedKeyStates(store.keyStates, audit);
  return { config, store, keyStates, ring, lifecycle, close };
}

/**
 * Stops before anything is written when the store records published keys and the backend holds
 * none of them: this shell names another backend than the issuer's (a missing WFID_KEYS, say).
 * Going on would, with no issuer running to hold the lease, retire the issuer's keys as gone.
 */
async function refuseAnotherBackend(
  config: Config,
  store: ExecutionStore,
  backend: KeyBackend,
): Promise<void> {
  const published = (await store.keyStates.listKeyStates()).filter(
    (record) => record.state !== 'retired',
  );
  if (published.length === 0) return;
  const held = new Set(
    (await backend.listKeys()).map((key) => toPublicJwk(key.publicKey, key.alg).kid),
  );
  if (published.some((record) => held.has(record.kid))) return;
  throw new WfidError(
    'ERR_CONFIG',
    `the store ${withoutSecrets(config.store)} records ${published.length} published key(s) (${published.map((record) => record.ref).join(', ')}), and ${withoutSecrets(config.keys.uri)} holds none of them: give this command the issuer's settings (keys.uri / WFID_KEYS). If the issuer itself moved to this backend, start it: it records the change. Nothing was changed`,
  );
}

const iso = (ms?: number) => (ms === undefined ? '-' : new Date(ms).toISOString());

async function confirm(kid: string, yes: boolean | undefined): Promise<void> {
  if (yes) return;
  if (!process.stdin.isTTY)
    throw new WfidError(
      'ERR_INVALID_REQUEST',
      'confirmation required: run in a terminal or pass --yes',
    );
  const prompt = createInterface({ input: process.stdin, output: process.stderr });
  const answer = await prompt.question(
    `Tokens signed by ${kid} will stop verifying at once. Type the kid to confirm: `,
  );
  prompt.close();
  if (answer.trim() !== kid)
    throw new WfidError('ERR_INVALID_REQUEST', 'not confirmed; nothing changed');
}

export function keysCommands(program: Command): void {
  const keys = program.command('keys').description('inspect and manage signing key versions');

  keys
    .command('list')
    .description(
      'every key version: kid, backend ref, alg, state, created, activates at, retires at',
    )
    .option('--json', 'print JSON')
    .action(async (options: { json?: boolean }, command: Command) => {
      const { config, ring, lifecycle, close } = await open(command);
      const times = keyTimes(config);
      const rows = ring.allKeys().map((key) => {
        const record = lifecycle.records.get(key.kid);
        const schedule = record ? scheduleOf(record, times) : {};
        return {
          kid: key.kid,
          ref: key.backendKey.ref,
          alg: key.backendKey.alg,
          state: record?.state ?? (key.backendKey.enabled ? 'unrecorded' : 'disabled'),
          created: iso(key.backendKey.createdAt.getTime()),
          activates_at: iso(schedule.activatesAt ?? record?.activatedAt),
          retires_at: iso(schedule.retiresAt ?? record?.retiredAt),
        };
      });
      await close();
      if (rows.length === 0) {
        process.stderr.write(
          `wfid: no key versions in ${withoutSecrets(config.keys.uri)}; \`wfid serve\` makes the first one (the CLI never does)\n`,
        );
      }
      if (options.json) return print(rows);
      const header = ['KID', 'STATE', 'ALG', 'CREATED', 'ACTIVATES AT', 'RETIRES AT', 'REF'];
      const lines = rows.map((row) => [
        row.kid,
        row.state,
        row.alg,
        row.created,
        row.activates_at,
        row.retires_at,
        row.ref,
      ]);
      const widths = header.map((title, index) =>
        Math.max(title.length, ...lines.map((line) => line[index]!.length)),
      );
      print(
        [header, ...lines]
          .map((line) =>
            line
              .map((cell, index) => cell.padEnd(widths[index]!))
              .join('  ')
              .trimEnd(),
          )
          .join('\n'),
      );
    });

  keys
    .command('rotate')
    .alias('create')
    .description(
      'prepare a new key version now; a running issuer publishes it at its next key refresh (keys.refresh) and it signs rotation.prepublish later',
    )
    .action(async (_options, command: Command) => {
      const { config, ring, lifecycle, close } = await open(command);
      let created: Awaited<ReturnType<KeyLifecycle['createVersion']>>;
      try {
        if (config.keys.create === 'never') {
          throw new WfidError(
            'ERR_CONFIG',
            `keys.create is never: the issuer makes no key versions in ${withoutSecrets(config.keys.uri)}; the security team adds them`,
          );
        }
        created = await lifecycle.createVersion();
      } catch (err) {
        await close();
        throw err;
      }
      const key = ring.allKeys().find((item) => item.backendKey.ref === created.ref);
      // Recorded here only when no issuer holds the rotation lease (none is running); a running
      // issuer records and publishes the version when it next lists the backend.
      const state = (key && lifecycle.records.get(key.kid)?.state) ?? 'unrecorded';
      await close();
      const refreshS = config.keys.refresh / 1000;
      const prepublishS = config.rotation.prepublish / 1000;
      print({
        kid: key?.kid,
        ref: created.ref,
        alg: created.alg,
        state,
        published_within_s: state === 'unrecorded' ? refreshS : 0,
        activates_after_s: prepublishS,
        next:
          state === 'unrecorded'
            ? `the running issuer publishes it within ${refreshS} s (keys.refresh) and lists it as pending; it signs ${prepublishS} s after that (rotation.prepublish)`
            : `recorded as ${state}: an issuer publishes it as soon as it serves; it signs ${prepublishS} s after publication (rotation.prepublish)`,
      });
    });

  keys
    .command('activate <kid>')
    .description('make a pending key the signing key now')
    .option('--force', 'even before it has been published for rotation.prepublish')
    .action(async (kid: string, options: { force?: boolean }, command: Command) => {
      const { config, keyStates, ring, lifecycle, close } = await open(command);
      try {
        if (ring.allKeys().some((key) => key.kid === kid) && !lifecycle.records.has(kid)) {
          throw new WfidError(
            'ERR_KEY_NOT_FOUND',
            `key ${kid} is in the backend but the running issuer has not recorded it yet; it does at its next key refresh, within ${config.keys.refresh / 1000} s (keys.refresh): try again then`,
          );
        }
        print(
          await activateKey(keyStates, kid, {
            prepublishMs: config.rotation.prepublish,
            force: options.force ?? false,
          }),
        );
      } finally {
        await close();
      }
    });

  keys
    .command('retire <kid>')
    .description('stop a key signing; with --now (compromise) it also leaves the JWKS at once')
    .option('--now', 'remove it from the JWKS immediately: tokens it signed stop verifying')
    .option('-y, --yes', 'do not ask for confirmation')
    .action(async (kid: string, options: { now?: boolean; yes?: boolean }, command: Command) => {
      const { keyStates, lifecycle, close } = await open(command);
      try {
        if (options.now) await confirm(kid, options.yes);
        const retired = await retireKey(keyStates, kid, { now: options.now ?? false });
        // Holding the lease (no server running), take the next step now: another key activates.
        await lifecycle.tick();
        print(retired);
      } finally {
        await close();
      }
    });

  program
    .command('jwks')
    .description('print the JWKS the running issuer publishes (GET <issuer>/.well-known/jwks.json)')
    .option('--url <url>', 'issuer base URL (default: issuer from config)')
    .action(async (_options, command: Command) => {
      const url = `${issuerUrl(command)}/.well-known/jwks.json`;
      process.stderr.write(`wfid: the JWKS published at ${url}\n`);
      const response = await fetch(url).catch((err: Error) => {
        throw new WfidError(
          'ERR_BACKEND_UNAVAILABLE',
          `cannot reach the issuer at ${url}: ${err.message} (wfid jwks shows what a running issuer publishes)`,
        );
      });
      if (!response.ok) {
        throw new WfidError('ERR_BACKEND', `the issuer at ${url} answered ${response.status}`);
      }
      print(await response.json());
    });
}
