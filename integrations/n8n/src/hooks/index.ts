/**
 * The n8n external hooks file (EXTERNAL_HOOK_FILES=<package>/dist/src/hooks/index.js).
 *
 * - At the start of every execution, in the process that runs it (a queue-mode worker, not
 *   the main that enqueues it), it finds out who the execution is from n8n's stored workflows
 *   (resolveIdentity: the running code must be the stored code), registers it with the
 *   issuer and keeps its request token in process memory for the Workflow Identity Token
 *   node. Code that is not stored (inline sub-workflows, edits) is not registered and gets
 *   no token. A slow issuer holds up the start at most WFID_N8N_START_BUDGET_MS.
 * - When the execution stops there it ends it with its final status, or pauses it at the
 *   issuer while it waits (Wait node), and resumes it when it goes on.
 * - In `n8n.ready` it can start the issuer inside n8n (WFID_IN_PROCESS=true), closed in
 *   `n8n.stop`.
 *
 * All calls are idempotent on the issuer.
 */
import { IssuerClient } from '../client/issuer-client.js';
import { hooksConfigFromEnv } from '../config.js';
import { EXECUTION_BOUND_CREDENTIALS, executionBinding } from '../credentials/execution-binding.js';
import type { N8nRunOutcome } from '../execution/end-status.js';
import { identityPolicyFromEnv } from '../identity/policy.js';
import { n8nWorkflowStore } from '../identity/stored-workflows.js';
import { ExecutionLifecycle, type HooksLogger } from './execution-lifecycle.js';
import { startInProcessIssuer } from './in-process.js';
import { bindCredentialsToExecutions, n8nLogger, onExecutionLifecycle } from './n8n-internals.js';

// Read once, then the engine token leaves n8n's environment: `$env` expressions (where an
// operator sets N8N_BLOCK_ENV_ACCESS_IN_NODE=false) and the environment of child processes
// would hand it to any editor, and it registers any execution under any workflow id. The
// in-process issuer reads its settings from this copy, and once it runs, every other secret it
// was given (engine tokens by any name, the admin token, the HSM PIN, store and Vault
// credentials) leaves n8n's environment too. The process's original environment block
// (/proc/<pid>/environ) keeps them: code that runs commands must stay disabled (docs/n8n.md).
const issuerEnv = { ...process.env };
const config = hooksConfigFromEnv(issuerEnv);
delete process.env.WFID_ENGINE_TOKEN;
const policy = identityPolicyFromEnv();
const logger: HooksLogger = n8nLogger() ?? {
  info: (message, meta) => console.log(message, meta ?? ''),
  warn: (message, meta) => console.warn(message, meta ?? ''),
};

// Without an issuer the hooks still decide identity (the node registers with its credential).
let lifecycle = new ExecutionLifecycle(undefined, config, logger, n8nWorkflowStore(), policy);
function connect(url: string, engineToken: string): void {
  lifecycle = new ExecutionLifecycle(
    new IssuerClient({ url, engineToken }),
    config,
    logger,
    n8nWorkflowStore(),
    policy,
  );
  logger.info('workflow-identity: registering n8n executions', { issuer: url });
}

if (config.issuerUrl && config.engineToken && !config.inProcess) {
  connect(config.issuerUrl, config.engineToken);
} else if (!config.inProcess) {
  logger.warn(
    'workflow-identity: WFID_ISSUER_URL and WFID_ENGINE_TOKEN(_FILE) unset; the hooks find each execution’s identity but do not register it (a node credential does)',
  );
}

const listening = onExecutionLifecycle({
  started: (facts, resumed) => lifecycle.started(facts, resumed),
  stopped: (executionId, run) => lifecycle.ended(executionId, run, true),
});
if (listening) {
  logger.info(
    'workflow-identity: ending executions where they run (lifecycle handlers; no workflow.postExecute hook)',
  );
} else {
  logger.warn(
    'workflow-identity: this n8n has no lifecycle handlers; executions register at their first token request (node credential), and sub-workflows get no token',
  );
}

if (!bindCredentialsToExecutions(EXECUTION_BOUND_CREDENTIALS, executionBinding)) {
  logger.warn(
    'workflow-identity: cannot bind credentials to executions in this n8n; the Workflow Identity Bearer and AWS Role credentials will refuse to work',
  );
}

let inProcessIssuer: { close(): Promise<void> } | undefined;

/**
 * Only without lifecycle handlers: the external hook ends executions instead. Its mere
 * presence makes a queue-mode main load every job's full execution data, so it is left out
 * whenever the lifecycle handler can do the job.
 */
const postExecuteFallback = {
  postExecute: [
    async function postExecute(
      run: N8nRunOutcome | undefined,
      _workflowData: unknown,
      executionId: string | undefined,
    ): Promise<void> {
      if (executionId === undefined || executionId === null) return;
      await lifecycle.ended(String(executionId), run);
    },
  ],
};

const hooks = {
  n8n: {
    ready: [
      async function ready(): Promise<void> {
        if (!config.inProcess) return;
        const issuer = await startInProcessIssuer(issuerEnv);
        inProcessIssuer = issuer;
        for (const name of issuer.secretEnvNames) delete process.env[name];
        logger.info('workflow-identity: the issuer runs in this process', {
          removedFromEnvironment: issuer.secretEnvNames,
        });
        // The issuer listens on its own address; the hooks talk to it over loopback HTTP like
        // any engine, so both modes share one code path.
        connect(config.issuerUrl ?? issuer.url, issuer.engineToken);
      },
    ],
    // n8n's own shutdown (start, worker and webhook commands) runs this before it exits.
    stop: [
      async function stop(): Promise<void> {
        await inProcessIssuer?.close();
        inProcessIssuer = undefined;
      },
    ],
  },
  workflow: listening ? {} : postExecuteFallback,
};

export = hooks;
