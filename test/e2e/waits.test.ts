/**
 * A paused execution (an n8n Wait node) through a real `wfid serve` on SQLite: while it waits
 * its request tokens are refused, its tokens introspect inactive and its status entry reads
 * INVALID; on resume it runs again with its deadline counted from the resume.
 */
import { getListFromStatusListJWT } from '@sd-jwt/jwt-status-list';
import { decodeJwt } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningIssuer, startIssuer, until } from './harness.js';

const ADMIN_TOKEN = `wfa_${'0f1e2d3c'.repeat(5)}`;

describe('waiting executions', () => {
  let issuer: RunningIssuer;

  beforeAll(async () => {
    issuer = await startIssuer({
      env: { WFID_STATUS_LIST_TTL: '1s', WFID_ADMIN_TOKEN: ADMIN_TOKEN },
    });
  });
  afterAll(async () => issuer?.stop());

  const engine = (path: string, body?: unknown) =>
    issuer.fetch(path, {
      method: 'POST',
      headers: {
        authorization: `Bearer ${issuer.engineToken}`,
        'content-type': 'application/json',
      },
      body: JSON.stringify(body ?? {}),
    });

  const introspect = async (token: string) => {
    const response = await issuer.fetch('/v1/introspect', {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ token }).toString(),
    });
    return (await response.json()) as { active: boolean };
  };

  /** The entry's status in a list signed after `since` (0 VALID, 1 INVALID). */
  const statusAfter = async (uri: string, idx: number, since: number) => {
    let status = -1;
    await until(async () => {
      const response = await issuer.fetch(new URL(uri).pathname, {
        headers: { accept: 'application/statuslist+jwt' },
      });
      const jwt = await response.text();
      status = getListFromStatusListJWT(jwt).getStatus(idx);
      return decodeJwt(jwt).iat! * 1000 > since;
    });
    return status;
  };

  it('refuses a waiting execution and gives it back its identity on resume, deadline from the resume', async () => {
    const started = await issuer.startExecution({ workflow_id: 'wf-wait', max_duration_s: 60 });
    const id = started.execution_id;
    const before = await issuer.mint(started.request_token, 'svc');
    const { uri, idx } = (
      decodeJwt(before.value).status as { status_list: { uri: string; idx: number } }
    ).status_list;
    expect(await introspect(before.value)).toMatchObject({ active: true });

    const paused = await engine(`/v1/executions/${id}/wait`);
    expect(paused.status).toBe(200);
    const pausedAt = Date.now();
    expect(await paused.json()).toMatchObject({ execution_id: id, status: 'waiting' });
    // Pausing again is idempotent.
    expect(await (await engine(`/v1/executions/${id}/wait`)).json()).toMatchObject({
      status: 'waiting',
    });

    const refused = await issuer.mintResponse(started.request_token, 'svc');
    expect(refused.status).toBe(401);
    const body = (await refused.json()) as { error: string; error_description: string };
    expect(body.error).toBe('invalid_token');
    expect(body.error_description).toMatch(/waiting/);
    expect(await introspect(before.value)).toEqual({ active: false });
    expect(await statusAfter(uri, idx, pausedAt)).toBe(1);
    // Registering it again does not resume it: the engine must say so.
    const again = await issuer.registerResponse({ execution_id: id, workflow_id: 'wf-wait' });
    expect(again.status).toBe(409);
    expect(((await again.json()) as { error: string }).error).toBe('execution_waiting');

    const resumeAsked = Date.now();
    const resumed = await engine(`/v1/executions/${id}/resume`, { max_duration_s: 120 });
    expect(resumed.status).toBe(200);
    expect(resumed.headers.get('cache-control')).toBe('no-store');
    const view = (await resumed.json()) as {
      status: string;
      deadline: string;
      request_token: string;
      request_url: string;
    };
    expect(view.status).toBe('running');
    expect(Date.parse(view.deadline)).toBeGreaterThanOrEqual(resumeAsked - 1 + 120_000);
    expect(view.request_url).toBe(started.request_url);
    // The new request token and the old one both mint again; old tokens are active again.
    await issuer.mint(view.request_token, 'svc');
    const after = await issuer.mint(started.request_token, 'svc');
    expect(decodeJwt(after.value).execution_id).toBe(id);
    expect(await introspect(before.value)).toMatchObject({ active: true });
    expect(await statusAfter(uri, idx, Date.now())).toBe(0);
    // Resuming a running execution only issues another request token.
    const twice = await engine(`/v1/executions/${id}/resume`);
    expect(twice.status).toBe(200);
    expect(((await twice.json()) as { status: string }).status).toBe('running');

    // A waiting execution can be ended (canceled while it waits); then it cannot resume.
    await engine(`/v1/executions/${id}/wait`);
    expect((await issuer.endExecution(id, 'canceled')).status).toBe(200);
    const late = await engine(`/v1/executions/${id}/resume`);
    expect(late.status).toBe(409);
    expect(((await late.json()) as { error: string }).error).toBe('execution_ended');

    // The audit trail tells the pauses and resumes apart from the end.
    const audit = await issuer.fetch(`/v1/audit?execution_id=${id}`, {
      headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
    });
    const { events } = (await audit.json()) as { events: { kind: string }[] };
    expect(
      events
        .map((event) => event.kind)
        .filter((kind) => kind.startsWith('execution.'))
        .slice(1),
    ).toEqual([
      'execution.waiting',
      'execution.waiting',
      'execution.resumed',
      'execution.resumed',
      'execution.waiting',
      'execution.ended',
    ]);
  });

  it('answers unknown executions, bad bodies and missing engine tokens with clear errors', async () => {
    expect((await engine('/v1/executions/nope/wait')).status).toBe(404);
    expect((await engine('/v1/executions/nope/resume')).status).toBe(404);
    const started = await issuer.startExecution({ workflow_id: 'wf-wait' });
    const bad = await engine(`/v1/executions/${started.execution_id}/resume`, {
      max_duration_s: -1,
    });
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { error: string }).error).toBe('invalid_request');
    const anonymous = await issuer.fetch(`/v1/executions/${started.execution_id}/wait`, {
      method: 'POST',
    });
    expect(anonymous.status).toBe(401);
    // A request token is not an engine token.
    const withRequestToken = await issuer.fetch(`/v1/executions/${started.execution_id}/wait`, {
      method: 'POST',
      headers: { authorization: `Bearer ${started.request_token}` },
    });
    expect(withRequestToken.status).toBe(401);
  });
});
