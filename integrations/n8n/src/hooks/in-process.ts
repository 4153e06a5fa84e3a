/**
 * In-process mode: the issuer runs inside the n8n main process (single-instance installs),
 * started from `n8n.ready`. It needs the `workflow-identity` package resolvable from this
 * package and its public `createIssuer` API; the issuer reads its own WFID_* settings
 * (keys, store, issuer URL, engine tokens) from the n8n process environment.
 */
export interface InProcessIssuer {
  url: string;
  engineToken: string;
}

interface IssuerModule {
  createIssuer?: (options: { env: NodeJS.ProcessEnv }) => Promise<{
    url?: string;
    engineToken?: string;
    listen?: () => Promise<unknown>;
    close?: () => Promise<void>;
  }>;
}

export async function startInProcessIssuer(
  _server: unknown,
  _n8nConfig: unknown,
): Promise<InProcessIssuer> {
  // A variable specifier: the root package is optional at build time and ESM-only.
  const specifier = 'workflow-identity';
  let api: IssuerModule;
  try {
    api = (await import(specifier)) as IssuerModule;
  } catch (cause) {
    throw new Error(
      'WFID_IN_PROCESS=true: install workflow-identity next to n8n (npm install workflow-identity)',
      {
        cause,
      },
    );
  }
  if (typeof api.createIssuer !== 'function') {
    throw new Error(
      'WFID_IN_PROCESS=true: this workflow-identity has no createIssuer API; run the issuer as a service (WFID_ISSUER_URL)',
    );
  }
  const issuer = await api.createIssuer({ env: process.env });
  await issuer.listen?.();
  const engineToken = issuer.engineToken ?? process.env.WFID_ENGINE_TOKEN;
  const url = issuer.url ?? process.env.WFID_ISSUER_URL ?? process.env.WFID_ISSUER;
  if (!url || !engineToken) {
    throw new Error(
      'WFID_IN_PROCESS=true: set WFID_ISSUER and WFID_ENGINE_TOKEN for the in-process issuer',
    );
  }
  const close = issuer.close;
  if (close) process.once('beforeExit', () => void close());
  return { url, engineToken };
}
