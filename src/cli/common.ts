import type { Command } from 'commander';
import pino from 'pino';
import { loadConfig } from '../config/load.js';
import type { Config } from '../config/schema.js';

export function configOf(command: Command): Config {
  const { config } = command.optsWithGlobals<{ config?: string }>();
  return loadConfig({ file: config });
}

/** CLI commands log warnings only, to stderr, so their stdout stays machine-readable. */
export const cliLogger = pino({ level: 'warn' }, pino.destination(2));

export function print(value: unknown): void {
  process.stdout.write(
    typeof value === 'string' ? `${value}\n` : `${JSON.stringify(value, null, 2)}\n`,
  );
}
