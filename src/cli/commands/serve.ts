import type { Command } from 'commander';
import { createIssuer } from '../../issuer.js';
import { configOf } from '../common.js';

export function serveCommand(program: Command): void {
  program
    .command('serve')
    .description('run the issuer (embedded defaults when there is no config)')
    .action(async (_options, command: Command) => {
      const issuer = await createIssuer(configOf(command));
      await issuer.listen();
      const stop = async (signal: string) => {
        issuer.logger.info({ signal }, 'shutting down');
        await issuer.close();
        process.exit(0);
      };
      process.once('SIGINT', () => void stop('SIGINT'));
      process.once('SIGTERM', () => void stop('SIGTERM'));
    });
}
