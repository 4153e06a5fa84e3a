import { JwtVerificationError } from './errors.js';
import { checkEndpoint, type RequestSettings, requestJson } from './http.js';

/** What the verifier needs from the issuer's OpenID Provider Metadata. */
export interface IssuerMetadata {
  issuer: string;
  jwksUri: string;
  introspectionEndpoint?: string;
}

/** OIDC Discovery §4: a terminating `/` of the issuer is removed before appending. */
export function discoveryUrl(issuer: string): string {
  return `${issuer.replace(/\/$/, '')}/.well-known/openid-configuration`;
}

/**
 * The issuer's metadata, fetched once and shared by the key set and the introspection
 * check. Forgotten when a request to a published endpoint fails, so an issuer that moved its
 * JWKS is found again on the next attempt.
 */
export class IssuerDiscovery {
  private pending?: Promise<IssuerMetadata>;

  constructor(
    private readonly settings: RequestSettings,
    private readonly issuer: string,
    private readonly needIntrospection: boolean,
  ) {}

  metadata(): Promise<IssuerMetadata> {
    if (!this.pending) {
      this.pending = this.discover();
      this.pending.catch(() => this.forget());
    }
    return this.pending;
  }

  forget(): void {
    this.pending = undefined;
  }

  private async discover(): Promise<IssuerMetadata> {
    const url = discoveryUrl(this.issuer);
    const { body } = await requestJson(this.settings, url, 'ERR_DISCOVERY_FAILED');
    const fail = (why: string): never => {
      throw new JwtVerificationError('ERR_DISCOVERY_FAILED', `discovery at ${url}: ${why}`);
    };
    if (typeof body !== 'object' || body === null) return fail('not a JSON object');
    const document = body as Record<string, unknown>;
    // OIDC Discovery §4.3: anything but an exact match means another issuer's keys.
    if (document.issuer !== this.issuer) {
      const named = JSON.stringify(document.issuer ?? null).slice(0, 200);
      return fail(`issuer is ${named}, expected ${this.issuer}`);
    }
    const jwksUri = checkEndpoint(document.jwks_uri, this.issuer) ?? fail('no usable jwks_uri');
    const introspectionEndpoint = checkEndpoint(document.introspection_endpoint, this.issuer);
    if (this.needIntrospection && !introspectionEndpoint) {
      return fail('no usable introspection_endpoint, which requireRunning needs');
    }
    return introspectionEndpoint
      ? { issuer: this.issuer, jwksUri, introspectionEndpoint }
      : { issuer: this.issuer, jwksUri };
  }
}
