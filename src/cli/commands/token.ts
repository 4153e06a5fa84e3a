import type { Command } from 'commander';
import { WfidError } from '../../errors.js';
import { decodeCompact, decodeJsonSegment } from '../../jws/decode-compact.js';
import { createVerifier } from '../../verify/index.js';
import { print } from '../common.js';

export function tokenCommands(program: Command): void {
  const token = program.command('token').description('decode and verify identity tokens');

  token
    .command('decode <jwt>')
    .description('print the header and claims of a token WITHOUT verifying it')
    .action((jwt: string) => {
      // The same strict decoding as verification, without its header policy: show what is there.
      let decoded: { header: Record<string, unknown>; payload: Record<string, unknown> };
      try {
        const parts = decodeCompact(jwt);
        decoded = {
          header: decodeJsonSegment(parts.encodedHeader, 'header'),
          payload: parts.payload,
        };
      } catch {
        throw new WfidError('ERR_INVALID_REQUEST', 'not a compact JWS (header.payload.signature)');
      }
      print(decoded);
    });

  token
    .command('verify <jwt>')
    .description(
      'verify a token as a relying party would: discovery, JWKS, signature, iss, aud, exp',
    )
    .requiredOption('--issuer <url>', 'the expected issuer')
    .requiredOption('--audience <aud>', 'an audience the token must carry')
    .option('--require-running', 'also ask the issuer whether the execution is still running')
    .option('--status-list', "check the execution's entry in the issuer's status list instead")
    .action(
      async (
        jwt: string,
        options: {
          issuer: string;
          audience: string;
          requireRunning?: boolean;
          statusList?: boolean;
        },
      ) => {
        const verifier = createVerifier({
          issuer: options.issuer,
          audience: options.audience,
          requireRunning: options.statusList ? 'status-list' : (options.requireRunning ?? false),
        });
        const { header, payload } = await verifier
          .verify(jwt)
          .catch((err: Error & { code?: string }) => {
            throw new WfidError(
              'ERR_INVALID_TOKEN',
              `token rejected: ${err.message} [${err.code ?? 'error'}]`,
            );
          });
        print({ valid: true, header, payload });
      },
    );
}
