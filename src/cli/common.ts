import type { Command } from 'commander';
import pino from 'pino';
import { loadConfig } from '../config/load.js';
import type { Config } from '../config/schema.js';
import { WfidError } from '../errors.js';

export function configOf(command: Command): Config {
  const { config } = command.optsWithGlobals<{ config?: string }>();
  return loadConfig({ file: config });
}

/** CLI commands log warnings only, to stderr, so their stdout stays machine-readable. */
export const cliLogger = pino({ level: 'warn' }, pino.destination(2));

/**
 * The command line with every kid operand moved behind `--`, where commander reads it as an
 * operand. A kid is an RFC 7638 thumbprint, 43 base64url characters, and one in 64 begins with
 * `-`: commander would take `wfid keys retire -zwpR…` for an unknown option (or, for `-y…`, for
 * `--yes` followed by one). No option of ours looks like that. The value of an option that takes
 * one (`valueOptions`, such as `audit --kid -zwpR…`) stays where it is: commander already
 * reads the argument after such an option as its value, whatever it begins with.
 */
export function kidsAsOperands(
  argv: readonly string[],
  valueOptions: ReadonlySet<string>,
): string[] {
  const end = argv.indexOf('--');
  const options = end === -1 ? [...argv] : argv.slice(0, end);
  const operands = end === -1 ? [] : argv.slice(end + 1);
  const kids: string[] = [];
  for (let index = options.length - 1; index >= 0; index--) {
    const arg = options[index]!;
    if (KID_LIKE_OPTION.test(arg) && !valueOptions.has(options[index - 1] ?? '')) {
      kids.unshift(arg);
      options.splice(index, 1);
    }
  }
  return kids.length === 0 ? [...argv] : [...options, '--', ...kids, ...operands];
}
const KID_LIKE_OPTION = /^-[A-Za-z0-9_-]{42}$/;

/**
 * The flags (`--config`, `-c`, …) of every option in the command tree that requires a value:
 * commander gives such an option the next argument whatever it begins with. (An optional value,
 * `[value]`, is never taken from an argument that begins with `-`.)
 */
export function optionsTakingValues(command: Command): Set<string> {
  const flags = new Set<string>();
  for (const option of command.options) {
    if (!option.required) continue;
    if (option.long) flags.add(option.long);
    if (option.short) flags.add(option.short);
  }
  for (const sub of command.commands) for (const flag of optionsTakingValues(sub)) flags.add(flag);
  return flags;
}

export function print(value: unknown): void {
  process.stdout.write(
    typeof value === 'string' ? `${value}\n` : `${JSON.stringify(value, null, 2)}\n`,
  );
}

/**
 * A key or store URI as the CLI may print it: a password in the URL or its query (`password`,
 * PostgreSQL's `sslpassword`) and a PKCS#11 `pin-value` are masked, so saying which backend a
 * command describes never shows a secret. The user info ends at the last `@` before the path,
 * as URL parsers and the drivers read it, so a password holding an unescaped `@` (or a user
 * name holding one) is masked whole.
 */
export function withoutSecrets(uri: string): string {
  return uri
    .replace(/^([a-z][a-z0-9+.-]*:\/\/)([^/?#]*)@/i, (_match, scheme: string, userinfo: string) => {
      const colon = userinfo.indexOf(':');
      return colon === -1 ? `${scheme}${userinfo}@` : `${scheme}${userinfo.slice(0, colon)}:***@`;
    })
    .replace(/([?&;](?:[a-z0-9_.-]*password|pin-value)=)[^&;#]*/gi, '$1***');
}

/**
 * The environment of an execution as shell code (`export NAME='value'`), for `eval "$(wfid
 * execution start --env)"`. The names and values come over the network from whatever answers
 * at the issuer URL, so they are never pasted in as they are: a name must be one of the
 * issuer's `WORKFLOW_ID_*` variables (not PATH, LD_PRELOAD, PROMPT_COMMAND and the like, which
 * run code too), and a value is single-quoted with its own quotes escaped, so the answer cannot
 * run a command in the shell that evaluates it. Any other answer is refused, nothing printed.
 */
export function shellExports(env: unknown): string {
  if (typeof env !== 'object' || env === null || Array.isArray(env)) {
    throw new WfidError('ERR_BACKEND', 'the issuer answered no env object');
  }
  return Object.entries(env)
    .map(([name, value]) => {
      if (!/^WORKFLOW_ID_[A-Z0-9_]+$/.test(name) || typeof value !== 'string') {
        throw new WfidError(
          'ERR_BACKEND',
          `the issuer answered an env member that is not a WORKFLOW_ID_* variable with a string value (${JSON.stringify(name.slice(0, 64))}); nothing printed`,
        );
      }
      return `export ${name}='${value.replaceAll("'", `'\\''`)}'`;
    })
    .join('\n');
}

// biome-ignore lint/suspicious/noControlCharactersInRegex: matching them is the point
const CONTROL_CHARACTERS = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f]/g;

/**
 * Text for the terminal with its control characters shown as `\u001b` and the like (line breaks
 * kept): an error can quote what a server answered (`error_description`), and escape sequences
 * in it could rewrite what the operator sees or drive the terminal.
 */
export function printable(text: string): string {
  return text.replace(
    CONTROL_CHARACTERS,
    (char) => `\\u${char.charCodeAt(0).toString(16).padStart(4, '0')}`,
  );
}

/** The issuer base URL a CLI command talks to: --url, else `issuer` from config. */
export function issuerUrl(command: Command): string {
  const { url } = command.optsWithGlobals<{ url?: string }>();
  return (url ?? configOf(command).issuer).replace(/\/$/, '');
}
