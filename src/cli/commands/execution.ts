import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Command } from 'commander';
import { type ErrorCode, WfidError } from '../../errors.js';
import { configOf, issuerUrl, print, shellExports } from '../common.js';

/**
 * The engine token: the default engine's (WFID_ENGINE_TOKEN), else the first named engine's,
 * else the one the server generated in its data dir.
 */
async function engineToken(command: Command): Promise<string> {
  const config = configOf(command);
  const configured = config.engine_tokens[0] ?? config.engines[0]?.token;
  if (configured) return configured;
  try {
    return (await readFile(join(config.data_dir, 'engine-token'), 'utf8')).trim();
  } catch {
    throw new WfidError(
      'ERR_CONFIG',
      'no engine token: set WFID_ENGINE_TOKEN or run next to the server data_dir',
    );
  }
}

/**
 * The code the CLI labels an issuer's error answer with, from its OAuth-style `error` (the
 * inverse of the table in errors.ts, where several codes share one answer): a 503 is the issuer
 * being unavailable, not a bad request.
 */
const CODE_OF_ANSWER: Record<string, ErrorCode> = {
  invalid_request: 'ERR_INVALID_REQUEST',
  invalid_token: 'ERR_INVALID_TOKEN',
  unauthorized: 'ERR_UNAUTHORIZED',
  access_denied: 'ERR_FORBIDDEN',
  not_found: 'ERR_NOT_FOUND',
  conflict: 'ERR_CONFLICT',
  execution_ended: 'ERR_EXECUTION_ENDED',
  execution_waiting: 'ERR_EXECUTION_WAITING',
  rate_limited: 'ERR_RATE_LIMITED',
  temporarily_unavailable: 'ERR_BACKEND_UNAVAILABLE',
};

async function call(
  command: Command,
  method: string,
  path: string,
  body?: unknown,
): Promise<unknown> {
  const base = issuerUrl(command);
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
    const error = typeof answer.error === 'string' ? answer.error : 'server_error';
    const retryAfter = response.headers.get('retry-after');
    throw new WfidError(
      CODE_OF_ANSWER[error] ?? 'ERR_BACKEND',
      `the issuer at ${base} answered ${response.status} ${error}: ${String(answer.error_description ?? '')}${retryAfter ? ` (retry after ${retryAfter} s)` : ''}`,
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
      })) as { env?: unknown };
      print(options.env ? shellExports(answer.env) : answer);
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
