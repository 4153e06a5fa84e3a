import type { Command } from 'commander';
import { WfidError } from '../../errors.js';
import { openBackend } from '../../keys/open.js';
import { KeyRing } from '../../keys/ring.js';
import { cliLogger, configOf, print } from '../common.js';

async function openRing(command: Command): Promise<KeyRing> {
  const config = configOf(command);
  const ring = new KeyRing(await openBackend(config, cliLogger), { logger: cliLogger });
  await ring.refresh();
  return ring;
}

export function keysCommands(program: Command): void {
  const keys = program.command('keys').description('inspect and manage signing key versions');

  keys
    .command('list')
    .description('every key version in the backend: kid, backend ref, alg, state, created')
    .option('--json', 'print JSON')
    .action(async (options: { json?: boolean }, command: Command) => {
      const ring = await openRing(command);
      const active = ring.signingKey().kid;
      const rows = ring.allKeys().map((key) => ({
        kid: key.kid,
        ref: key.backendKey.ref,
        alg: key.backendKey.alg,
        state: key.kid === active ? 'active' : ring.publishedKey(key.kid) ? 'published' : 'disabled',
        created: key.backendKey.createdAt.toISOString(),
      }));
      await ring.close();
      if (options.json) return print(rows);
      print(rows.map((row) => [row.kid, row.state.padEnd(9), row.alg.padEnd(5), row.created, row.ref].join('  ')).join('\n'));
    });

  keys
    .command('create')
    .description('create a new key version in the backend')
    .action(async (_options, command: Command) => {
      const ring = await openRing(command);
      if (!ring.backend.createKey) {
        throw new WfidError('ERR_CONFIG', `the ${ring.backend.kind} backend does not create keys; versions are made outside the issuer`);
      }
      const created = await ring.backend.createKey();
      await ring.refresh();
      const key = ring.allKeys().find((item) => item.backendKey.ref === created.ref);
      await ring.close();
      print({ kid: key?.kid, ref: created.ref, alg: created.alg });
    });

  program
    .command('jwks')
    .description('print the JWKS the issuer publishes')
    .action(async (_options, command: Command) => {
      const ring = await openRing(command);
      print(JSON.parse(ring.jwks().body));
      await ring.close();
    });
}
