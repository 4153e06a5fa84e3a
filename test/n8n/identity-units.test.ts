/**
 * Who an n8n execution is: the canonical digest, and resolveIdentity's rules over a fake
 * store (the real n8n database is in identity.test.ts).
 */
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { nodeSettingsFromEnv } from '../../integrations/n8n/src/config.js';
import { executionBinding } from '../../integrations/n8n/src/credentials/execution-binding.js';
import { executionToken } from '../../integrations/n8n/src/credentials/execution-token.js';
import { localExecutions } from '../../integrations/n8n/src/execution/local-executions.js';
import {
  audienceAllowed,
  identityPolicyFromEnv,
} from '../../integrations/n8n/src/identity/policy.js';
import {
  IdentityRefused,
  type LocalRun,
  resolveIdentity,
} from '../../integrations/n8n/src/identity/resolve.js';
import type {
  StoredWorkflow,
  WorkflowStore,
} from '../../integrations/n8n/src/identity/stored-workflows.js';
import {
  canonicalCode,
  type WorkflowCode,
  workflowDigest,
} from '../../integrations/n8n/src/identity/workflow-digest.js';
import { obtainToken } from '../../integrations/n8n/src/node/obtain-token.js';

const payrollCode: WorkflowCode = {
  nodes: [
    {
      name: 'Start',
      type: 'n8n-nodes-base.executeWorkflowTrigger',
      typeVersion: 1.1,
      parameters: {},
    },
    { name: 'Token', type: 'workflowIdentityToken', typeVersion: 1, parameters: { audience: 'a' } },
  ],
  connections: { Start: { main: [[{ node: 'Token', type: 'main', index: 0 }]] } },
};
const draftCode: WorkflowCode = {
  nodes: [...payrollCode.nodes, { name: 'Extra', type: 'n8n-nodes-base.noOp', parameters: {} }],
  connections: payrollCode.connections,
};

const stored: Record<string, StoredWorkflow> = {
  payroll: {
    id: 'payroll',
    name: 'Payroll',
    draft: { ...draftCode, versionId: 'v-draft' },
    published: { ...payrollCode, versionId: 'v-pub' },
    projectId: 'finance',
  },
  reports: {
    id: 'reports',
    name: 'Reports',
    draft: { ...payrollCode, versionId: 'r-draft' },
    published: { ...payrollCode, versionId: 'r-pub' },
    projectId: 'ops',
  },
};
const store: WorkflowStore = {
  load: async (id) => stored[id],
  sameCode: (a, b) => canonicalCode(a) === canonicalCode(b),
};
const policy = identityPolicyFromEnv({});

function callerRun(nodes: WorkflowCode['nodes']): LocalRun {
  return {
    executionId: '10',
    code: { nodes, connections: {} },
    mode: 'webhook',
    rootMode: 'webhook',
    rootExecutionId: '10',
    rootWorkflowId: 'reports',
    workflowId: 'reports',
  };
}

describe('workflowDigest', () => {
  it('hashes a canonical JSON of behaviour: sorted keys and nodes, layout left out', () => {
    const code: WorkflowCode = {
      nodes: [
        {
          name: 'b',
          type: 't',
          position: [1, 2],
          id: 'uuid',
          parameters: { z: 1, a: [true, null] },
        },
        { name: 'a', type: 't', notes: 'hi', disabled: true },
      ],
      connections: { b: { main: [[{ node: 'a', type: 'main', index: 0 }]] } },
    };
    const canonical =
      '{"connections":{"b":{"main":[[{"index":0,"node":"a","type":"main"}]]}},' +
      '"nodes":[{"disabled":true,"name":"a","type":"t"},{"name":"b","parameters":{"a":[true,null],"z":1},"type":"t"}]}';
    expect(canonicalCode(code)).toBe(canonical);
    expect(workflowDigest(code)).toBe(
      `sha256:${createHash('sha256').update(canonical).digest('hex')}`,
    );
    const moved = { ...code, nodes: [{ ...code.nodes[1]!, position: [9, 9] }, code.nodes[0]!] };
    expect(workflowDigest(moved)).toBe(workflowDigest(code));
    const changed = { ...code, nodes: [code.nodes[0]!, { ...code.nodes[1]!, disabled: false }] };
    expect(workflowDigest(changed)).not.toBe(workflowDigest(code));
  });
});

describe('resolveIdentity', () => {
  it('a production run of the published code gets its id, version, digest and project', async () => {
    const identity = await resolveIdentity(
      { executionId: '1', mode: 'webhook', workflowId: 'payroll', code: payrollCode },
      store,
      policy,
    );
    expect(identity).toMatchObject({
      workflowId: 'payroll',
      workflowName: 'Payroll',
      workflowVersion: 'v-pub',
      projectId: 'finance',
      digest: workflowDigest(payrollCode),
      published: true,
      stored: true,
      rootExecutionId: '1',
      rootWorkflowId: 'payroll',
      rootMode: 'webhook',
    });
  });

  it('a manual run of the draft gets published: false and the draft’s version and digest', async () => {
    const identity = await resolveIdentity(
      { executionId: '2', mode: 'manual', workflowId: 'payroll', code: draftCode },
      store,
      policy,
    );
    expect(identity).toMatchObject({
      workflowId: 'payroll',
      workflowVersion: 'v-draft',
      digest: workflowDigest(draftCode),
      published: false,
    });
  });

  it('code that differs from the stored version never carries the id it names', async () => {
    for (const [mode, code] of [
      ['webhook', draftCode],
      ['manual', payrollCode],
    ] as const) {
      await expect(
        resolveIdentity({ executionId: '3', mode, workflowId: 'payroll', code }, store, policy),
      ).rejects.toMatchObject({ code: 'ERR_N8N_NOT_STORED_CODE' });
    }
  });

  it('an inline sub-workflow is refused even when its JSON copies the stored code and id', async () => {
    const parent = callerRun([
      {
        name: 'Call',
        type: 'n8n-nodes-base.executeWorkflow',
        parameters: { source: 'parameter' },
      },
    ]);
    const facts = {
      executionId: '11',
      mode: 'integrated',
      workflowId: 'payroll',
      code: payrollCode,
      parentExecutionId: '10',
    };
    const refusal = await resolveIdentity(facts, store, policy, parent).catch((e) => e);
    expect(refusal).toBeInstanceOf(IdentityRefused);
    expect(refusal.code).toBe('ERR_N8N_NOT_STORED_CODE');
    expect(refusal.message).not.toContain('payroll');

    // Opt-in: an identity derived from the root workflow, never the id in the JSON.
    const derived = await resolveIdentity(facts, store, { ...policy, inline: 'caller' }, parent);
    expect(derived).toMatchObject({
      workflowId: 'reports.inline',
      published: false,
      stored: false,
      parentExecutionId: '10',
      parentWorkflowId: 'reports',
      rootWorkflowId: 'reports',
    });
    expect(derived.workflowVersion).toBeUndefined();
  });

  it('any node of the caller that can run its own code makes its sub-executions inline; database calls alone do not', async () => {
    const facts = {
      executionId: '12',
      mode: 'integrated',
      workflowId: 'payroll',
      code: payrollCode,
      parentExecutionId: '10',
    };
    // An AI agent with an inline workflow tool; a database call next to an inline one (a
    // sub-workflow started without waiting may begin after its own node has finished).
    for (const nodes of [
      [
        { name: 'Agent', type: '@n8n/n8n-nodes-langchain.agent', parameters: {} },
        {
          name: 'Tool',
          type: '@n8n/n8n-nodes-langchain.toolWorkflow',
          parameters: { source: 'parameter' },
        },
      ],
      [
        {
          name: 'Call',
          type: 'n8n-nodes-base.executeWorkflow',
          parameters: { source: 'database' },
        },
        { name: 'Inline', type: 'n8n-nodes-base.executeWorkflow', parameters: { source: 'url' } },
      ],
      [
        {
          name: 'Call',
          type: 'n8n-nodes-base.executeWorkflow',
          parameters: { source: '={{ "parameter" }}' },
        },
      ],
    ]) {
      await expect(resolveIdentity(facts, store, policy, callerRun(nodes))).rejects.toMatchObject({
        code: 'ERR_N8N_NOT_STORED_CODE',
      });
    }
    const database = callerRun([
      { name: 'Call', type: 'n8n-nodes-base.executeWorkflow', parameters: { source: 'database' } },
      { name: 'Agent', type: '@n8n/n8n-nodes-langchain.agent', parameters: {} },
    ]);
    expect(await resolveIdentity(facts, store, policy, database)).toMatchObject({
      workflowId: 'payroll',
      published: true,
      parentExecutionId: '10',
      parentWorkflowId: 'reports',
      rootExecutionId: '10',
      rootWorkflowId: 'reports',
      rootMode: 'webhook',
    });
  });

  it('follows which code n8n runs for sub-workflows, and never calls a draft-rooted chain published', async () => {
    const call = [
      { name: 'Call', type: 'n8n-nodes-base.executeWorkflow', parameters: { source: 'database' } },
    ];
    const sub = (code: WorkflowCode) => ({
      executionId: '21',
      mode: 'integrated',
      workflowId: 'payroll',
      code,
      parentExecutionId: '20',
    });
    // A manual caller: n8n runs the callee's draft.
    const manualCaller = { ...callerRun(call), mode: 'manual', rootMode: 'manual' };
    expect(await resolveIdentity(sub(draftCode), store, policy, manualCaller)).toMatchObject({
      workflowVersion: 'v-draft',
      published: false,
      rootMode: 'manual',
    });
    await expect(
      resolveIdentity(sub(payrollCode), store, policy, manualCaller),
    ).rejects.toMatchObject({
      code: 'ERR_N8N_NOT_STORED_CODE',
    });
    // Its grandchild (caller mode integrated) and a CLI run's child run the published code:
    // the version says so, `published` stays false because a draft run started the chain.
    for (const caller of [
      { ...manualCaller, mode: 'integrated' },
      { ...manualCaller, mode: 'cli', rootMode: 'cli' },
    ]) {
      expect(await resolveIdentity(sub(payrollCode), store, policy, caller)).toMatchObject({
        workflowVersion: 'v-pub',
        digest: workflowDigest(payrollCode),
        published: false,
      });
    }
  });

  it('a sub-execution whose caller is unknown here is refused', async () => {
    await expect(
      resolveIdentity(
        { executionId: '13', mode: 'integrated', workflowId: 'payroll', code: payrollCode },
        store,
        policy,
        null,
      ),
    ).rejects.toMatchObject({ code: 'ERR_N8N_UNKNOWN_CALLER' });
  });

  it('applies the operator’s policy: manual and unpublished runs refused on request', async () => {
    const manual = { executionId: '4', mode: 'manual', workflowId: 'payroll', code: draftCode };
    await expect(
      resolveIdentity(manual, store, identityPolicyFromEnv({ WFID_N8N_REFUSE_MANUAL: 'true' })),
    ).rejects.toMatchObject({ code: 'ERR_N8N_MANUAL_REFUSED' });
    await expect(
      resolveIdentity(
        manual,
        store,
        identityPolicyFromEnv({ WFID_N8N_REFUSE_UNPUBLISHED: 'true' }),
      ),
    ).rejects.toMatchObject({ code: 'ERR_N8N_UNPUBLISHED_REFUSED' });
    await expect(
      resolveIdentity(
        { ...manual, mode: 'webhook', code: payrollCode },
        store,
        identityPolicyFromEnv({ WFID_N8N_REFUSE_UNPUBLISHED: 'true' }),
      ),
    ).resolves.toMatchObject({ published: true });
  });

  it('a retry is a user’s run: published: false, the published code or the draft, refused like a manual run', async () => {
    // Retried from its saved (published) code, or with the currently saved draft.
    for (const [code, version] of [
      [payrollCode, 'v-pub'],
      [draftCode, 'v-draft'],
    ] as const) {
      const retry = { executionId: '6', mode: 'retry', workflowId: 'payroll', code };
      await expect(resolveIdentity(retry, store, policy)).resolves.toMatchObject({
        workflowId: 'payroll',
        workflowVersion: version,
        digest: workflowDigest(code),
        published: false,
        rootMode: 'retry',
      });
      for (const [variable, rule] of [
        ['WFID_N8N_REFUSE_MANUAL', 'ERR_N8N_MANUAL_REFUSED'],
        ['WFID_N8N_REFUSE_UNPUBLISHED', 'ERR_N8N_UNPUBLISHED_REFUSED'],
      ]) {
        await expect(
          resolveIdentity(retry, store, identityPolicyFromEnv({ [variable!]: 'true' })),
        ).rejects.toMatchObject({ code: rule });
      }
    }
    // Its database sub-workflows run their published version, in a chain a user started.
    const retryRun = { ...callerRun([]), mode: 'retry', rootMode: 'retry' };
    await expect(
      resolveIdentity(
        {
          executionId: '7',
          mode: 'integrated',
          workflowId: 'payroll',
          code: payrollCode,
          parentExecutionId: '10',
        },
        store,
        policy,
        retryRun,
      ),
    ).resolves.toMatchObject({ workflowVersion: 'v-pub', published: false, rootMode: 'retry' });
  });

  it('only production modes can be published: evaluations and modes not known here are users’ runs', async () => {
    // n8n's test runner runs the draft with a test case pinned on its trigger.
    const evaluation = {
      executionId: '8',
      mode: 'evaluation',
      workflowId: 'payroll',
      code: draftCode,
    };
    await expect(resolveIdentity(evaluation, store, policy)).resolves.toMatchObject({
      workflowVersion: 'v-draft',
      published: false,
    });
    await expect(
      resolveIdentity(evaluation, store, identityPolicyFromEnv({ WFID_N8N_REFUSE_MANUAL: 'true' })),
    ).rejects.toMatchObject({ code: 'ERR_N8N_MANUAL_REFUSED' });
    for (const mode of ['some-future-mode', undefined]) {
      await expect(
        resolveIdentity(
          { executionId: '9', mode, workflowId: 'payroll', code: payrollCode },
          store,
          policy,
        ),
      ).resolves.toMatchObject({ workflowVersion: 'v-pub', published: false });
    }
    for (const mode of ['webhook', 'trigger', 'error']) {
      await expect(
        resolveIdentity(
          { executionId: '9', mode, workflowId: 'payroll', code: payrollCode },
          store,
          policy,
        ),
      ).resolves.toMatchObject({ workflowVersion: 'v-pub', published: true });
    }
  });

  it('without access to n8n’s workflows nothing is asserted', async () => {
    await expect(
      resolveIdentity(
        { executionId: '5', mode: 'webhook', workflowId: 'payroll', code: payrollCode },
        undefined,
        policy,
      ),
    ).rejects.toMatchObject({ code: 'ERR_N8N_NO_STORE' });
  });
});

describe('identity policy and node settings from the environment', () => {
  it('reads the project audience allowlist', () => {
    const allow = identityPolicyFromEnv({
      WFID_N8N_PROJECT_AUDIENCES: '{"finance":["sts.amazonaws.com"],"*":["vault"]}',
    });
    expect(audienceAllowed(allow, 'finance', 'sts.amazonaws.com')).toBe(true);
    expect(audienceAllowed(allow, 'finance', 'vault')).toBe(false);
    expect(audienceAllowed(allow, 'ops', 'vault')).toBe(true);
    expect(audienceAllowed(allow, undefined, 'sts.amazonaws.com')).toBe(false);
    expect(audienceAllowed(policy, 'ops', 'anything')).toBe(true);
  });

  it('names the bad variable', () => {
    expect(() => identityPolicyFromEnv({ WFID_N8N_PROJECT_AUDIENCES: '["x"]' })).toThrow(
      /^WFID_N8N_PROJECT_AUDIENCES/,
    );
    expect(() => identityPolicyFromEnv({ WFID_N8N_INLINE_IDENTITY: 'borrow' })).toThrow(
      /^WFID_N8N_INLINE_IDENTITY/,
    );
    expect(() => identityPolicyFromEnv({ WFID_N8N_REFUSE_MANUAL: 'maybe' })).toThrow(
      /^WFID_N8N_REFUSE_MANUAL/,
    );
  });

  it('gives node-registered executions a short default deadline', () => {
    expect(nodeSettingsFromEnv({}).nodeMaxDurationS).toBe(900);
    expect(nodeSettingsFromEnv({ WFID_N8N_NODE_MAX_DURATION_S: '120' }).nodeMaxDurationS).toBe(120);
    expect(nodeSettingsFromEnv({}).requestCredentialsInOutput).toBe(false);
  });
});

describe('obtainToken guards (before any issuer call)', () => {
  const facts = { executionId: '77', mode: 'webhook', workflowId: 'payroll', code: payrollCode };

  it('refuses request credentials in output unless the operator enables them', async () => {
    await expect(
      obtainToken(facts, { audience: 'a', includeRequest: true }, undefined, {}),
    ).rejects.toThrow(/WFID_N8N_REQUEST_CREDENTIALS_IN_OUTPUT=true/);
  });

  it('refuses a token file without the operator’s directory', async () => {
    await expect(
      obtainToken(facts, { audience: 'a', tokenFile: true }, undefined, {}),
    ).rejects.toThrow(/WFID_TOKEN_FILE_DIR/);
  });

  it('holds inline code derived from a caller to its root project’s audiences, not to the list of unlisted projects', async () => {
    const parent = {
      ...callerRun([
        {
          name: 'Call',
          type: 'n8n-nodes-base.executeWorkflow',
          parameters: { source: 'parameter' },
        },
      ]),
      rootProjectId: 'ops',
    };
    const identity = await resolveIdentity(
      {
        executionId: '78',
        mode: 'integrated',
        workflowId: 'payroll',
        code: payrollCode,
        parentExecutionId: '10',
      },
      store,
      { ...policy, inline: 'caller' },
      parent,
    );
    expect(identity).toMatchObject({ workflowId: 'reports.inline', policyProjectId: 'ops' });
    expect(identity.projectId).toBeUndefined();
    localExecutions().set('78', {
      identity,
      requestUrl: 'http://127.0.0.1:9/v1/token',
      requestToken: 'never-used',
      resources: new Set(),
    });
    try {
      const env = {
        WFID_N8N_INLINE_IDENTITY: 'caller',
        WFID_N8N_PROJECT_AUDIENCES: JSON.stringify({ ops: ['ops-aud'], '*': ['anything'] }),
      };
      await expect(
        obtainToken({ ...facts, executionId: '78' }, { audience: 'anything' }, undefined, env),
      ).rejects.toThrow(/not allowed for this workflow’s project/);
      // The same rule for the execution-bound credentials (Bearer, AWS), which mint too.
      await expect(
        executionToken(executionBinding('78'), 'anything', undefined, env),
      ).rejects.toThrow(/not allowed for this workflow’s project/);
    } finally {
      localExecutions().delete('78');
    }
  });

  it('sends a credential’s engine token only to the operator’s issuer (WFID_ISSUER_URL)', async () => {
    // Whoever may edit the credential can change its URL; n8n keeps the hidden engine token.
    const env = { WFID_ISSUER_URL: 'https://apps.example.com/wfid' };
    const send = (issuerUrl: string, settings: NodeJS.ProcessEnv = env) =>
      obtainToken(
        { ...facts, executionId: '80' },
        { audience: 'a' },
        { issuerUrl, engineToken: 'e' },
        settings,
      );
    for (const elsewhere of [
      'https://attacker.example/wfid',
      'http://apps.example.com/wfid',
      'https://apps.example.com:8443/wfid',
      'https://apps.example.com.attacker.example/wfid',
      // The issuer's host, but a path n8n's own webhooks could answer on.
      'https://apps.example.com/webhook/x',
      'https://apps.example.com',
      'https://user:pw@apps.example.com/wfid',
    ]) {
      await expect(send(elsewhere), elsewhere).rejects.toThrow(
        /Issuer URL \(.*\) is not the issuer this n8n is set up for \(WFID_ISSUER_URL\)/,
      );
    }
    await expect(send('not a url')).rejects.toThrow(/Issuer URL is not a URL/);
    // No operator's issuer, no engine token sent anywhere.
    await expect(send('https://apps.example.com/wfid', {})).rejects.toThrow(
      /^workflow-identity: set WFID_ISSUER_URL in n8n’s environment/,
    );
    // The operator's URL, however written, passes (and fails later here: no n8n database).
    for (const same of ['https://apps.example.com/wfid/', 'HTTPS://Apps.Example.com:443/wfid']) {
      await expect(send(same), same).rejects.toThrow(/ERR_N8N_NO_STORE/);
    }
  });

  it('without the hooks, refuses an error workflow (the node cannot see whose failure started it)', async () => {
    await expect(
      obtainToken(
        { ...facts, executionId: '79', mode: 'error' },
        { audience: 'a' },
        { issuerUrl: 'http://127.0.0.1:9', engineToken: 'e' },
        { WFID_ISSUER_URL: 'http://127.0.0.1:9' },
      ),
    ).rejects.toMatchObject({ code: 'ERR_N8N_UNKNOWN_CALLER' });
  });

  it('fails with the hooks’ refusal, never falling back to the credential', async () => {
    const refusal = new IdentityRefused('ERR_N8N_NOT_STORED_CODE', 'not stored');
    localExecutions().set('77', { refusal, resources: new Set() });
    try {
      await expect(
        obtainToken(
          facts,
          { audience: 'a' },
          { issuerUrl: 'http://127.0.0.1:9', engineToken: 'e' },
          {},
        ),
      ).rejects.toBe(refusal);
    } finally {
      localExecutions().delete('77');
    }
  });
});
