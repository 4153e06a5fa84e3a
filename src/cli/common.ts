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

/**
 * A key or store URI as the CLI may print it: a password in the URL or its query and a PKCS#11
 * `pin-value` are masked, so saying which backend a command describes never shows a secret.
 */
export function withoutSecrets(uri: string): string {
  return uri
    .replace(/^([a-z][a-z0-9+.-]*:\/\/[^/@:]*):[^/@]*@/i, '$1:***@')
    .replace(/([?&;](?:pin-value|password)=)[^&;]*/gi, '$1***');
}

/** The issuer base URL a CLI command talks to: --url, else `issuer` from config. */
export function issuerUrl(command: Command): string {
  const { url } = command.optsWithGlobals<{ url?: string }>();
  return (url ?? configOf(command).issuer).replace(/\/$/, '');
}
