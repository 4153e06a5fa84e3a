/**
 * The HTTP baseline: a bare Fastify route that parses the same JSON body and signs one fixed
 * JWT with crypto.sign ES256. What the issuer adds on top (auth, store lookup, claims, key
 * ring, metrics) is what the ratio measures.
 */
import { generateKeyPairSync, sign } from 'node:crypto';
import Fastify from 'fastify';

const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const header = Buffer.from(JSON.stringify({ alg: 'ES256', kid: 'baseline', typ: 'JWT' })).toString('base64url');
const payload = Buffer.from(
  JSON.stringify({ iss: 'https://wfid.example.com', sub: 'workflow:wf', aud: 'sts', exp: 2_000_000_000, workflow_id: 'wf' }),
).toString('base64url');
const signingInput = `${header}.${payload}`;

const app = Fastify();
app.post('/v1/token', async () => {
  const signature = sign('sha256', Buffer.from(signingInput), { key: privateKey, dsaEncoding: 'ieee-p1363' });
  return { value: `${signingInput}.${signature.toString('base64url')}`, expires_at: 2_000_000_000 };
});
const address = await app.listen({ host: '127.0.0.1', port: Number(process.env.PORT ?? 0) });
process.stdout.write(`${address}\n`);
