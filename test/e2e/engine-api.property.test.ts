/**
 * Property-based tests (fast-check) over the engine API's request bodies, sent to the real
 * `wfid serve` over HTTP: whatever an engine sends, random or a mutation of a valid
 * registration, the issuer answers a client error or a success in the documented shape, never a
 * 5xx, and it stays up.
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningIssuer, startIssuer } from './harness.js';

const PROD_TOKEN = `wfe_prod_${randomBytes(24).toString('base64url')}`;
/** Bounded: each run is one HTTP request against the shared machine. */
const RUNS = 300;

/** Field names of a registration, plus a few that are not. */
const FIELDS = [
  'execution_id',
  'workflow_id',
  'workflow_name',
  'workflow_version',
  'project_id',
  'owner',
  'mode',
  'trigger',
  'environment',
  'instance',
  'claims',
  'max_duration_s',
  'engine',
  '__proto__',
  'constructor',
];

/** Values that probe the edges: ids with separators, huge numbers, nesting, odd strings. */
const edgy = fc.oneof(
  fc.jsonValue({ maxDepth: 3 }),
  fc.constantFrom(
    '',
    ':',
    'a:b:c',
    '../x',
    '%00',
    '\u0000',
    '{workflow_id}',
    'x'.repeat(300),
    -1,
    0,
    1e308,
    Number.MAX_SAFE_INTEGER + 2,
    null,
    true,
    [],
    {},
    { team: ['a'] },
    { team: 'data', sub: 'root' },
  ),
  fc.string({ unit: 'binary', maxLength: 40 }),
);

const validBody = fc.record({
  execution_id: fc.stringMatching(/^[A-Za-z0-9][A-Za-z0-9._:@-]{0,20}$/),
  workflow_id: fc.stringMatching(/^[A-Za-z0-9][A-Za-z0-9._-]{0,20}$/),
  project_id: fc.constantFrom('shop', 'billing'),
  environment: fc.constantFrom('prod', 'dev'),
  claims: fc.constant({ team: 'data' }),
});

/** A valid registration with fields dropped, replaced or added. */
const mutatedBody = fc
  .tuple(
    validBody,
    fc.array(fc.tuple(fc.constantFrom(...FIELDS), fc.option(edgy, { nil: undefined })), {
      maxLength: 4,
    }),
  )
  .map(([body, mutations]) => {
    const mutated: Record<string, unknown> = { ...body };
    for (const [field, value] of mutations) {
      if (value === undefined) delete mutated[field];
      else
        Object.defineProperty(mutated, field, {
          value,
          enumerable: true,
          writable: true,
          configurable: true,
        });
    }
    return mutated;
  });

describe('engine API under random and mutated bodies (fast-check, real server)', () => {
  let issuer: RunningIssuer;
  let configDir: string;

  beforeAll(async () => {
    configDir = await mkdtemp(join(tmpdir(), 'wfid-property-'));
    const config = join(configDir, 'wfid.yaml');
    await writeFile(
      config,
      'engines:\n  - {name: n8n-prod, token: "env:PROD_TOKEN", environment: prod}\n',
    );
    issuer = await startIssuer({
      env: {
        WFID_CONFIG: config,
        PROD_TOKEN,
        WFID_TOKENS_SUBJECT: 'engine:{engine}:repo:{project_id}:env:{environment}',
        WFID_TOKENS_EXTRA_CLAIMS: 'team',
        WFID_LOG_LEVEL: 'warn',
      },
    });
  });
  afterAll(async () => {
    await issuer?.stop();
    if (configDir) await rm(configDir, { recursive: true, force: true });
  });

  const send = (
    path: string,
    engineToken: string,
    body: string | undefined,
    method = 'POST',
    type = 'application/json',
  ) =>
    issuer.fetch(path, {
      method,
      headers: {
        authorization: `Bearer ${engineToken}`,
        ...(body === undefined ? {} : { 'content-type': type }),
      },
      body,
    });

  /** The answer is a success or a client error in the documented shape; never a 5xx or a leak. */
  const expectWellFormed = async (response: Response) => {
    const text = await response.text();
    expect(response.status, text).toBeLessThan(500);
    const body = JSON.parse(text) as Record<string, unknown>;
    if (response.status >= 400) {
      expect(typeof body.error).toBe('string');
      expect(typeof body.error_description).toBe('string');
    }
    expect(text).not.toMatch(/at .*\.(ts|js):\d+/);
    expect(text).not.toContain(PROD_TOKEN);
    expect(text).not.toContain(issuer.engineToken);
    return { status: response.status, body };
  };
  const token = fc.constantFrom('prod', 'default');
  const engineToken = (which: string) => (which === 'prod' ? PROD_TOKEN : issuer.engineToken);

  it('POST /v1/executions with mutated registrations', async () => {
    const statuses = new Map<number, number>();
    await fc.assert(
      fc.asyncProperty(mutatedBody, token, async (body, which) => {
        const { status, body: answer } = await expectWellFormed(
          await send('/v1/executions', engineToken(which), JSON.stringify(body)),
        );
        statuses.set(status, (statuses.get(status) ?? 0) + 1);
        if (status === 201 || status === 200) {
          expect(answer.request_token).toMatch(/^wfr_/);
          // A registration that passed was checked in full: repeating it is idempotent.
          const again = await send('/v1/executions', engineToken(which), JSON.stringify(body));
          expect(again.status).toBe(200);
        }
      }),
      { numRuns: RUNS },
    );
    // The mutations reach both the refusals and the registrations that go through.
    expect(statuses.get(400)).toBeGreaterThan(0);
    expect((statuses.get(201) ?? 0) + (statuses.get(200) ?? 0)).toBeGreaterThan(0);
  });

  it('POST /v1/executions with any JSON value, and with any text under any content type', async () => {
    await fc.assert(
      fc.asyncProperty(fc.jsonValue({ maxDepth: 4 }), token, async (value, which) => {
        await expectWellFormed(
          await send('/v1/executions', engineToken(which), JSON.stringify(value)),
        );
      }),
      { numRuns: RUNS },
    );
    await fc.assert(
      fc.asyncProperty(
        fc.string({ unit: 'binary', maxLength: 200 }),
        fc.constantFrom(
          'application/json',
          'application/x-www-form-urlencoded',
          'text/plain',
          'application/json; charset=latin1',
          'multipart/form-data',
        ),
        async (text, type) => {
          await expectWellFormed(
            await send('/v1/executions', issuer.engineToken, text, 'POST', type),
          );
        },
      ),
      { numRuns: RUNS },
    );
  });

  it('POST /v1/executions/{id}/end and GET /v1/executions/{id} with any id and any body', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.string({ unit: 'binary', minLength: 1, maxLength: 60 }),
        fc.jsonValue({ maxDepth: 2 }),
        token,
        async (id, value, which) => {
          const path = `/v1/executions/${encodeURIComponent(id)}`;
          await expectWellFormed(
            await send(`${path}/end`, engineToken(which), JSON.stringify(value)),
          );
          await expectWellFormed(await send(path, engineToken(which), undefined, 'GET'));
        },
      ),
      { numRuns: RUNS },
    );
  });

  it('is still up and serving afterwards', async () => {
    expect(issuer.process.exitCode).toBeNull();
    expect((await issuer.fetch('/healthz')).status).toBe(200);
    expect((await issuer.fetch('/readyz')).status).toBe(200);
    expect(issuer.logs()).not.toMatch(/"level":50,.*"request failed"/);
  });
});
