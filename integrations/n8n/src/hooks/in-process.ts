import { readFile } from 'node:fs/promises';
import { isAbsolute, join } from 'node:path';
import { pathToFileURL } from 'node:url';

/**
 * In-process mode (single-instance installs): the issuer runs inside the n8n main process,
 * started from `n8n.ready`, listening on its own address (WFID_HOST/WFID_PORT, default
 * 127.0.0.1:8080) so verifiers reach discovery and JWKS there. It reads its WFID_* settings
 * (issuer, keys, store, engine tokens) from the n8n process environment, exactly as
 * `wfid serve` would. Needs the `workflow-identity` package resolvable from here (installed
 * next to this package) or WFID_IN_PROCESS_MODULE naming its entry file.
 *
 * Not done: mounting the issuer's routes on n8n's own Express app. n8n reads every request
 * body (rawBodyReader, bodyParser) and serves the editor for unknown paths before
 * `n8n.ready` runs, so mounting would mean re-ordering n8n's router stack.
 */
export interface InProcessIssuer {
  url: string;
  engineToken: string;
  /** The variables of `env` that gave the issuer a secret, for the caller to remove from n8n's. */
  secretEnvNames: string[];
  close(): Promise<void>;
}

interface IssuerModule {
  loadConfig?: (options: { env: NodeJS.ProcessEnv }) => {
    engine_tokens: string[];
    data_dir: string;
    issuer: string;
  };
  createIssuer?: (
    config: unknown,
  ) => Promise<{ listen(): Promise<string>; close(): Promise<void> }>;
  secretEnvNames?: (config: never, env: NodeJS.ProcessEnv) => string[];
}

export async function startInProcessIssuer(
  env: NodeJS.ProcessEnv = process.env,
): Promise<InProcessIssuer> {
  const configured = env.WFID_IN_PROCESS_MODULE;
  // The root package is ESM and optional: import() by a variable, not a static import.
  const specifier = configured
    ? pathToFileURL(isAbsolute(configured) ? configured : join(process.cwd(), configured)).href
    : 'workflow-identity';
  let api: IssuerModule;
  try {
    api = (await import(specifier)) as IssuerModule;
  } catch (cause) {
    throw new Error(
      'WFID_IN_PROCESS=true: cannot load workflow-identity (npm install workflow-identity next to n8n, or set WFID_IN_PROCESS_MODULE)',
      { cause },
    );
  }
  if (
    typeof api.createIssuer !== 'function' ||
    typeof api.loadConfig !== 'function' ||
    typeof api.secretEnvNames !== 'function'
  ) {
    throw new Error(
      'WFID_IN_PROCESS=true: this workflow-identity has no createIssuer/loadConfig/secretEnvNames API (install the issuer package of the same release as this node package)',
    );
  }
  const config = api.loadConfig({ env });
  const issuer = await api.createIssuer(config);
  const url = await issuer.listen();
  // With no engine token configured the issuer generated one in its data dir.
  const engineToken =
    config.engine_tokens[0] ??
    (await readFile(join(config.data_dir, 'engine-token'), 'utf8')).trim();
  return {
    url,
    engineToken,
    secretEnvNames: api.secretEnvNames(config as never, env),
    close: () => issuer.close(),
  };
}
