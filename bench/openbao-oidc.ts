/**
 * Token throughput against a peer that does the same job: OpenBao's identity tokens
 * (`GET identity/oidc/token/:role`, an ES256 named key, the caller an entity logged in with
 * userpass), on the same box, interleaved with our `POST /v1/token` in the same run. Both are
 * measured per wall second at the same concurrency with the same load generator; OpenBao is a
 * multi-threaded Go server and may use both cores, our issuer is one Node.js process.
 */
import { startOpenBao } from '../test/peers/openbao.js';
import { mintRequest, startBenchIssuer } from './http.js';
import { measure, warmUp } from './load.js';
import { median, round } from './stats.js';

const ROUNDS = 3;

export async function benchOpenBaoOidc(): Promise<Record<string, number>> {
  const bao = await startOpenBao();
  const issuer = await startBenchIssuer();
  try {
    await bao.api('POST', 'sys/auth/userpass', { type: 'userpass' });
    await bao.api('PUT', 'sys/policies/acl/oidc-token', {
      policy: 'path "identity/oidc/token/*" { capabilities = ["read"] }',
    });
    await bao.api('POST', 'auth/userpass/users/bench', {
      password: 'bench-password',
      token_policies: 'oidc-token',
    });
    await bao.api('POST', 'identity/oidc/key/wfid', {
      algorithm: 'ES256',
      allowed_client_ids: '*',
    });
    await bao.api('POST', 'identity/oidc/role/bench', { key: 'wfid', ttl: '10m' });
    const login = await bao.api<{ auth: { client_token: string } }>(
      'POST',
      'auth/userpass/login/bench',
      { password: 'bench-password' },
    );
    const openbaoRequest = {
      url: `${bao.address}/v1/identity/oidc/token/bench`,
      method: 'GET' as const,
      headers: { 'x-vault-token': login.auth.client_token },
    };
    // One call first: the role answers with a signed token, or the figures would be errors.
    const probe = await fetch(openbaoRequest.url, { headers: openbaoRequest.headers });
    if (!probe.ok) throw new Error(`OpenBao identity token: ${probe.status} ${await probe.text()}`);

    await warmUp(openbaoRequest);
    await warmUp(mintRequest(issuer));
    const ours: number[] = [];
    const theirs: number[] = [];
    const ratio: number[] = [];
    for (let i = 0; i < ROUNDS; i++) {
      const b = await measure(bao.pid(), openbaoRequest);
      const o = await measure(issuer.pid, mintRequest(issuer));
      theirs.push(b.perWallSecond);
      ours.push(o.perWallSecond);
      ratio.push(o.perWallSecond / b.perWallSecond);
    }
    return {
      openbao_token_per_s: Math.round(median(theirs)),
      http_token_vs_openbao_per_s: Math.round(median(ours)),
      http_token_vs_openbao: round(median(ratio)),
    };
  } finally {
    await issuer.stop();
    await bao.close();
  }
}
