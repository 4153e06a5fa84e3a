import { Command } from 'commander';
import { isWfidError } from '../errors.js';
import { auditCommand } from './commands/audit.js';
import { executionCommands } from './commands/execution.js';
import { initCommand } from './commands/init.js';
import { keysCommands } from './commands/keys.js';
import { serveCommand } from './commands/serve.js';
import { tokenCommands } from './commands/token.js';
import { kidsAsOperands, optionsTakingValues, printable } from './common.js';

const program = new Command('wfid')
  .description('workflow-identity: short-lived OIDC identity tokens for workflow executions')
  .option('-c, --config <file>', 'path of wfid.yaml (default: $WFID_CONFIG, then ./wfid.yaml)')
  .showHelpAfterError();

serveCommand(program);
initCommand(program);
keysCommands(program);
tokenCommands(program);
executionCommands(program);
auditCommand(program);

program
  .parseAsync(kidsAsOperands(process.argv, optionsTakingValues(program)))
  .catch((err: unknown) => {
    // One clear line for the operator; stacks only on request.
    const message = isWfidError(err)
      ? `${err.message} [${err.code}]`
      : err instanceof Error
        ? err.message
        : String(err);
    process.stderr.write(`wfid: ${printable(message)}\n`);
    if (process.env.WFID_DEBUG && err instanceof Error) process.stderr.write(`${err.stack}\n`);
    process.exit(1);
  });
