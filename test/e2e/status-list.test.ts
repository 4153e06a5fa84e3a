/**
 * Token Status Lists end to end: two real `wfid serve` replicas behind one issuer URL, sharing
 * a SQLite file, a PostgreSQL or a Redis store and one key directory. An outside decoder of the
 * draft (npm @sd-jwt/jwt-status-list) reads the lists; the verifier library checks tokens
 * against them through a "load balancer" that alternates between the replicas.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { getListFromStatusListJWT } from '@sd-jwt/jwt-status-list';
import { createRemoteJWKSet, decodeJwt, jwtVerify } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createVerifier, type JwtVerificationError } from '../../src/verify/index.js';
import { startPostgres } from '../peers/postgres.js';
import { startRedis } from '../peers/redis.js';
import { type RunningIssuer, startIssuer, until } from './harness.js';

interface SharedStore {
  url: string;
  close(): Promise<void>;
}

const STORES: Record<string, () => Promise<SharedStore>> = {
  sqlite: async () => {
    const dir = await mkdtemp(join(tmpdir(), 'wfid-status-sqlite-'));
    return {
      url: `sqlite:${join(dir, 'wfid.db')}`,
      close: () => rm(dir, { recursive: true, force: true }),
    };
  },
  postgres: async () => {
    const pg = await startPostgres();
    return { url: pg.url, close: () => pg.close() };
  },
  redis: async () => {
    const redis = await startRedis();
    return { url: redis.url, close: () => redis.close() };
  },
};

/** The public URL both replicas share: `iss` of every token and origin of every list. */
const ISSUER = 'https://wfid.status.test';
const TTL_S = 2;

for (const [name, startStore] of Object.entries(STORES)) {
  describe(`status lists served by two replicas sharing a ${name} store`, () => {
    let store: SharedStore;
    let keysDir: string;
    let a: RunningIssuer;
    let b: RunningIssuer;
    let turn = 0;
    /** Sends each request for the issuer URL to the replicas in turn, as a load balancer would. */
    const balanced: typeof fetch = (input, init) => {
      const replica = turn++ % 2 === 0 ? a : b;
      return fetch(String(input).replace(ISSUER, replica.url), init);
    };

    beforeAll(async () => {
      store = await startStore();
      keysDir = await mkdtemp(join(tmpdir(), 'wfid-status-keys-'));
      const env = {
        WFID_STORE: store.url,
        WFID_KEYS: `file://${keysDir}`,
        WFID_ISSUER: ISSUER,
        WFID_ENGINE_TOKEN: `wfe_status_${process.pid}_${name}_0123456789abcdef`,
        WFID_STATUS_LIST_TTL: `${TTL_S}s`,
        WFID_STATUS_LIST_SIZE: '1024',
      };
      a = await startIssuer({ env });
      b = await startIssuer({ env });
    });
    afterAll(async () => {
      await a?.stop();
      await b?.stop();
      await store?.close();
      if (keysDir) await rm(keysDir, { recursive: true, force: true });
    });

    /** GET the list a token names from one replica: the raw answer and the decoded list. */
    const readList = async (replica: RunningIssuer, uri: string) => {
      const response = await replica.fetch(uri.slice(ISSUER.length), {
        headers: { accept: 'application/statuslist+jwt' },
      });
      expect(response.status).toBe(200);
      const jwt = await response.text();
      return { response, jwt, iat: decodeJwt(jwt).iat!, list: getListFromStatusListJWT(jwt) };
    };

    it('marks an execution VALID while it runs and INVALID on every replica once either ends it', async () => {
      const running = await a.startExecution({ workflow_id: 'wf-status' });
      const ending = await b.startExecution({ workflow_id: 'wf-status' });
      const { value } = await b.mint(ending.request_token, 'svc');
      const keep = await a.mint(running.request_token, 'svc');
      const claim = decodeJwt(value).status as { status_list: { idx: number; uri: string } };
      const kept = (decodeJwt(keep.value).status as typeof claim).status_list;
      expect(claim.status_list.uri).toMatch(new RegExp(`^${ISSUER}/v1/status-lists/\\d+$`));
      expect(kept.uri === claim.status_list.uri && kept.idx === claim.status_list.idx).toBe(false);
      const { idx, uri } = claim.status_list;

      const jwks = createRemoteJWKSet(new URL(`${a.url}/.well-known/jwks.json`));
      for (const replica of [a, b]) {
        const { response, jwt, list } = await readList(replica, uri);
        expect(response.headers.get('content-type')).toBe('application/statuslist+jwt');
        expect(response.headers.get('cache-control')).toBe(`public, max-age=${TTL_S}`);
        expect(response.headers.get('access-control-allow-origin')).toBe('*');
        // Signed with a key of the JWKS, typ statuslist+jwt, sub = the uri the token names.
        const { payload, protectedHeader } = await jwtVerify(jwt, jwks, {
          issuer: ISSUER,
          typ: 'statuslist+jwt',
          subject: uri,
        });
        expect(protectedHeader.kid).toBeTruthy();
        expect(payload.ttl).toBe(TTL_S);
        expect(payload.status_list).toMatchObject({ bits: 1 });
        expect(list.getStatus(idx)).toBe(0);
      }

      const verifier = createVerifier({
        issuer: ISSUER,
        audience: 'svc',
        requireRunning: 'status-list',
        fetch: balanced,
      });
      await expect(verifier.verify(value)).resolves.toBeDefined();

      expect((await b.endExecution(ending.execution_id, 'success')).status).toBe(200);
      const endedAt = Date.now();
      for (const replica of [a, b]) {
        // Every list issued after the end was acknowledged shows it, on either replica.
        let latest = await readList(replica, uri);
        await until(async () => {
          latest = await readList(replica, uri);
          return latest.iat * 1000 > endedAt;
        });
        expect(latest.list.getStatus(idx)).toBe(1);
        if (kept.uri === uri) expect(latest.list.getStatus(kept.idx)).toBe(0);
      }
      // The verifier's copy lives `ttl` from its fetch; a verifier whose clock is past it refetches.
      const later = createVerifier({
        issuer: ISSUER,
        audience: 'svc',
        requireRunning: 'status-list',
        fetch: balanced,
        now: () => Date.now() + (TTL_S + 1) * 1000,
      });
      const refused = (await later.verify(value).catch((err) => err)) as JwtVerificationError;
      expect(refused.code).toBe('ERR_EXECUTION_NOT_RUNNING');
      await expect(later.verify(keep.value)).resolves.toBeDefined();
    });

    it('advertises the lists in discovery and answers 404 for a list never opened', async () => {
      const started = await a.startExecution({ workflow_id: 'wf-status' });
      const { value } = await a.mint(started.request_token, 'svc');
      const { uri } = (decodeJwt(value).status as { status_list: { uri: string } }).status_list;
      const discovery = (await (await b.fetch('/.well-known/openid-configuration')).json()) as {
        status_list_aggregation_endpoint: string;
        claims_supported: string[];
      };
      expect(discovery.status_list_aggregation_endpoint).toBe(`${ISSUER}/v1/status-lists`);
      expect(discovery.claims_supported).toContain('status');
      const aggregation = await b.fetch('/v1/status-lists');
      expect(aggregation.status).toBe(200);
      expect(((await aggregation.json()) as { status_lists: string[] }).status_lists).toContain(
        uri,
      );
      for (const path of ['/v1/status-lists/999999', '/v1/status-lists/x', '/v1/status-lists/01']) {
        const response = await a.fetch(path);
        expect(response.status).toBe(404);
        expect(((await response.json()) as { error: string }).error).toBe('not_found');
      }
    });
  });
}
