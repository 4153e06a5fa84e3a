import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Command } from 'commander';
import { WfidError } from '../../errors.js';
import { configOf, print } from '../common.js';

interface ServerOptions {
  url?: string;
}

/** The engine token: WFID_ENGINE_TOKEN, else the one the server generated in its data dir. */
async function engineToken(command: Command): Promise<string> {
  const config = configOf(command);
  if (config.engine_tokens[0]) return config.engine_tokens[0];
  try {
    return (await readFile(join(config.data_dir, 'engine-token'), 'utf8')).trim();
  } catch {
    throw new WfidError(
      'ERR_CONFIG',
      'no engine token: set WFID_ENGINE_TOKEN or run next to the server data_dir',
    );
  }
}

async function call(
  command: Command,
  method: string,
  path: string,
  body?: unknown,
): Promise<unknown> {
  const options = command.optsWithGlobals<ServerOptions>();
  const base = (options.url ?? configOf(command).issuer).replace(/\/$/, '');
  const response = await fetch(`${base}${path}`, {
    method,
    headers: {
      authorization: `Bearer ${await engineToken(command)}`,
      'content-type': 'application/json',
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  }).catch((err: Error) => {
    throw new WfidError(
      'ERR_BACKEND_UNAVAILABLE',
      `cannot reach the issuer at ${base}: ${err.message}`,
    );
  });
  const answer = (await response.json().catch(() => ({}))) as Record<string, unknown>;
  if (!response.ok) {
    throw new WfidError(
      'ERR_INVALID_REQUEST',
      `${response.status} ${answer.error ?? ''}: ${answer.error_description ?? ''}`,
    );
  }
  return answer;
}

export function executionCommands(program: Command): void {
  const execution = program
    .command('execution')
    .description('register and end executions on a running issuer (engine API)')
    .option('--url <url>', 'issuer base URL (default: issuer from config)');

  execution
    .command('start')
    .requiredOption('--execution-id <id>')
    .requiredOption('--workflow-id <id>')
    .option('--workflow-name <name>')
    .option('--mode <mode>')
    .option('--max-duration <seconds>', 'deadline in seconds', (value) =>
      Number.parseInt(value, 10),
    )
    .option('--env', 'print only the environment for the execution, as shell exports')
    .action(async (options, command: Command) => {
      const answer = (await call(command, 'POST', '/v1/executions', {
        execution_id: options.executionId,
        workflow_id: options.workflowId,
        workflow_name: options.workflowName,
        mode: options.mode,
        max_duration_s: options.maxDuration,
      })) as { env: Record<string, string> };
      if (!options.env) return print(answer);
      print(
        Object.entries(answer.env)
          .map(([name, value]) => `export ${name}='${value}'`)
          .join('\n'),
      );
    });

  execution
    .command('end <id>')
    .option('--status <status>', 'success | error | canceled | crashed', 'success')
    .action(async (id: string, options: { status: string }, command: Command) => {
      print(
        await call(command, 'POST', `/v1/executions/${encodeURIComponent(id)}/end`, {
          status: options.status,
        }),
      );
    });

  execution.command('get <id>').action(async (id: string, _options, command: Command) => {
    print(await call(command, 'GET', `/v1/executions/${encodeURIComponent(id)}`));
  });
}
