/**
 * The HTTP baseline: a bare Fastify route that parses the same JSON body and signs one fixed
 * JWT with crypto.sign ES256. The fixed JWT carries the same claims the issuer mints for the
 * bench execution, so both answers are the same size; what the issuer adds on top (request
 * token auth, store lookup, claims, key ring, metrics) is what the ratio measures.
 */
import { generateKeyPairSync, sign } from 'node:crypto';
import Fastify from 'fastify';

const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const header = Buffer.from(JSON.stringify({ alg: 'ES256', kid: 'baseline', typ: 'JWT' })).toString(
  'base64url',
);
const payload = Buffer.from(
  JSON.stringify({
    iss: 'http://127.0.0.1:8080',
    sub: 'workflow:wf-bench',
    execution_id: 'bench-1',
    workflow_id: 'wf-bench',
    workflow_name: 'Nightly invoice sync',
    mode: 'trigger',
    environment: 'production',
    started_at: 1_790_000_000,
    aud: 'sts',
    iat: 1_790_000_000,
    nbf: 1_789_999_995,
    exp: 1_790_000_600,
    jti: '6f0a0406-ba5b-4fe9-a644-bb0ce78dd8b4',
  }),
).toString('base64url');
const signingInput = `${header}.${payload}`;

const app = Fastify();
app.post('/v1/token', async () => {
  const signature = sign('sha256', Buffer.from(signingInput), {
    key: privateKey,
    dsaEncoding: 'ieee-p1363',
  });
  return { value: `${signingInput}.${signature.toString('base64url')}`, expires_at: 2_000_000_000 };
});
const address = await app.listen({ host: '127.0.0.1', port: Number(process.env.PORT ?? 0) });
process.stdout.write(`${address}\n`);
process.once('SIGTERM', () => process.exit(0));
