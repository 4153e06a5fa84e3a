/**
 * The registration baseline: a bare Fastify route doing the minimum a durable registration
 * needs, and nothing else. One WAL transaction with synchronous=FULL (one fsync per commit)
 * that stores the execution and the SHA-256 of a fresh request-token secret, then one ES256
 * signature over a same-size JWT (the token handed to the execution). What the issuer adds on
 * top (engine auth, validation, claims, key ring, metrics) is what the ratio measures; what it
 * saves by sharing commits is what group commit buys.
 */
import { createHash, generateKeyPairSync, randomBytes, sign } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import Fastify from 'fastify';

const dir = mkdtempSync(join(tmpdir(), 'wfid-bench-regbase-'));
const db = new Database(join(dir, 'base.db'));
db.pragma('journal_mode = WAL');
db.pragma('synchronous = FULL');
db.exec(`CREATE TABLE executions (execution_id TEXT PRIMARY KEY, workflow_id TEXT NOT NULL,
           metadata TEXT NOT NULL, started_at INTEGER NOT NULL);
         CREATE TABLE request_tokens (token_id TEXT PRIMARY KEY, execution_id TEXT NOT NULL,
           secret_hash BLOB NOT NULL);`);
const insertExecution = db.prepare('INSERT INTO executions VALUES (?, ?, ?, ?)');
const insertToken = db.prepare('INSERT INTO request_tokens VALUES (?, ?, ?)');
const register = db.transaction(
  (executionId: string, workflowId: string, metadata: string, secretHash: Buffer) => {
    insertExecution.run(executionId, workflowId, metadata, Date.now());
    insertToken.run(randomBytes(16).toString('hex'), executionId, secretHash);
  },
);

const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const header = Buffer.from(JSON.stringify({ alg: 'ES256', kid: 'baseline', typ: 'JWT' })).toString(
  'base64url',
);

const app = Fastify();
app.post('/v1/executions', async (request, reply) => {
  const body = request.body as { execution_id: string; workflow_id: string };
  const secret = randomBytes(32);
  register(
    body.execution_id,
    body.workflow_id,
    JSON.stringify(body),
    createHash('sha256').update(secret).digest(),
  );
  const now = Math.floor(Date.now() / 1000);
  const payload = Buffer.from(
    JSON.stringify({
      iss: 'http://127.0.0.1:8080',
      sub: `workflow:${body.workflow_id}`,
      ...body,
      aud: 'wfid',
      iat: now,
      nbf: now,
      exp: now + 600,
      jti: randomBytes(16).toString('hex'),
    }),
  ).toString('base64url');
  const signingInput = `${header}.${payload}`;
  const signature = sign('sha256', Buffer.from(signingInput), {
    key: privateKey,
    dsaEncoding: 'ieee-p1363',
  });
  reply.code(201);
  return {
    execution_id: body.execution_id,
    request_token: `wfr_${secret.toString('base64url')}`,
    token: `${signingInput}.${signature.toString('base64url')}`,
  };
});
const address = await app.listen({ host: '127.0.0.1', port: Number(process.env.PORT ?? 0) });
process.stdout.write(`${address}\n`);
process.once('SIGTERM', () => {
  db.close();
  rmSync(dir, { recursive: true, force: true });
  process.exit(0);
});
