/** The pure parts of the hooks: end status mapping, registration bodies, env config. */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { hooksConfigFromEnv } from '../../integrations/n8n/src/config.js';
import { endStatusOf } from '../../integrations/n8n/src/execution/end-status.js';
import { registrationFor } from '../../integrations/n8n/src/execution/registration.js';

describe('endStatusOf (n8n run -> issuer end status)', () => {
  it('maps n8n final statuses like n8n does', () => {
    expect(endStatusOf({ status: 'success', data: { resultData: {} } })).toBe('success');
    expect(endStatusOf({ status: 'error' })).toBe('error');
    expect(endStatusOf({ status: 'canceled' })).toBe('canceled');
    expect(endStatusOf({ status: 'crashed' })).toBe('crashed');
    // Queue-mode main calls postExecute before n8n finalises the status: derive it.
    expect(
      endStatusOf({ status: 'running', data: { resultData: { error: { message: 'x' } } } }),
    ).toBe('error');
    expect(endStatusOf({ status: 'running', data: { resultData: {} } })).toBe('success');
    expect(endStatusOf(undefined)).toBe('crashed');
  });

  it('does not end an execution that waits (it resumes under the same id)', () => {
    expect(endStatusOf({ status: 'waiting' })).toBeUndefined();
    expect(endStatusOf({ status: 'success', waitTill: new Date() })).toBeUndefined();
  });
});

describe('registrationFor', () => {
  const identity = {
    workflowId: 'wf1',
    workflowName: 'n'.repeat(300),
    workflowVersion: 'v-published',
    projectId: 'p1',
    digest: `sha256:${'a'.repeat(64)}`,
    published: true,
    stored: true,
    rootMode: 'webhook',
    rootExecutionId: '40',
    rootWorkflowId: 'root',
    parentExecutionId: '41',
    parentWorkflowId: 'parent',
  };

  it('takes the workflow identity from the resolved identity and the ids from n8n, cutting long names', () => {
    expect(
      registrationFor({ executionId: '42', mode: 'integrated', instanceId: '' }, identity, {
        environment: 'prod',
        maxDurationS: 3600,
      }),
    ).toEqual({
      execution_id: '42',
      workflow_id: 'wf1',
      workflow_name: 'n'.repeat(256),
      workflow_version: 'v-published',
      workflow_digest: identity.digest,
      published: true,
      project_id: 'p1',
      // The root's mode: a sub-workflow of a manual run is visibly manual.
      mode: 'webhook',
      root_execution_id: '40',
      root_workflow_id: 'root',
      parent_execution_id: '41',
      parent_workflow_id: 'parent',
      environment: 'prod',
      max_duration_s: 3600,
    });
  });

  it('sends the operator’s instance instead of n8n’s when set (an engine credential may fix it)', () => {
    const facts = { executionId: '42', instanceId: 'n8n-instance-id' };
    expect(registrationFor(facts, identity).instance).toBe('n8n-instance-id');
    expect(registrationFor(facts, identity, { instance: 'staging-1' }).instance).toBe('staging-1');
  });

  it('names no trigger for a retry, which starts at the node that failed', () => {
    const facts = { executionId: '43', trigger: 'CUSTOM.workflowIdentityToken' };
    expect(registrationFor({ ...facts, mode: 'retry' }, identity).trigger).toBeUndefined();
    expect(registrationFor({ ...facts, mode: 'webhook' }, identity).trigger).toBe(facts.trigger);
  });

  it('refuses an execution without an id', () => {
    expect(() => registrationFor({ executionId: '' }, identity)).toThrow(/no id/);
  });
});

describe('hooksConfigFromEnv', () => {
  it('reads the engine token from a file, trimmed', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'wfid-n8n-config-'));
    try {
      await writeFile(join(dir, 'engine'), 'secret-engine-token\n');
      const config = hooksConfigFromEnv({
        WFID_ISSUER_URL: 'http://127.0.0.1:1',
        WFID_ENGINE_TOKEN_FILE: join(dir, 'engine'),
      });
      expect(config.engineToken).toBe('secret-engine-token');
      expect(config.inProcess).toBe(false);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('names the bad variable, never its value', () => {
    const cases: Array<[NodeJS.ProcessEnv, RegExp]> = [
      [{ WFID_ISSUER_URL: 'not a url' }, /^WFID_ISSUER_URL/],
      [{ WFID_N8N_MAX_DURATION_S: '-1' }, /^WFID_N8N_MAX_DURATION_S/],
      [{ WFID_IN_PROCESS: 'maybe' }, /^WFID_IN_PROCESS/],
      [{ WFID_TOKEN_FILE_AUDIENCE: 'sts.amazonaws.com' }, /needs WFID_TOKEN_FILE_DIR/],
      [{ WFID_ENGINE_TOKEN_FILE: '/nonexistent/engine-token' }, /^WFID_ENGINE_TOKEN_FILE/],
    ];
    for (const [env, message] of cases) expect(() => hooksConfigFromEnv(env)).toThrow(message);
  });

  it('configures per-execution token files', () => {
    expect(
      hooksConfigFromEnv({
        WFID_TOKEN_FILE_DIR: '/run/wfid',
        WFID_TOKEN_FILE_AUDIENCE: 'sts.amazonaws.com',
      }).tokenFile,
    ).toEqual({ dir: '/run/wfid', audience: 'sts.amazonaws.com', lifetimeS: undefined });
    // The directory alone: only the node's Token File option writes there.
    expect(hooksConfigFromEnv({ WFID_TOKEN_FILE_DIR: '/run/wfid' }).tokenFile).toEqual({
      dir: '/run/wfid',
      audience: undefined,
      lifetimeS: undefined,
    });
  });
});
