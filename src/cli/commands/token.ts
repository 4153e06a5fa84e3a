import type { Command } from 'commander';
import { WfidError } from '../../errors.js';
import { parseCompact } from '../../jws/compact.js';
import { print } from '../common.js';

export function tokenCommands(program: Command): void {
  const token = program.command('token').description('decode and verify identity tokens');

  token
    .command('decode <jwt>')
    .description('print the header and claims of a token WITHOUT verifying it')
    .action((jwt: string) => {
      const parsed = parseCompact(jwt);
      if (!parsed) throw new WfidError('ERR_INVALID_REQUEST', 'not a compact JWS (header.payload.signature)');
      print({ header: parsed.header, payload: parsed.payload });
    });
}
