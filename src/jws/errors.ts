/**
 * Why the JWS/JWT core refused a token. The issuer's introspection turns it into an inactive
 * answer, the verifier library into its public error codes; neither matches message text.
 */
export type JwsFailure =
  /** Not three strict base64url segments of a JSON object header and payload, or too long. */
  | 'malformed'
  /** The protected header has no `kid`. */
  | 'no_kid'
  /** `alg` outside the allowlist, or not the alg of the key named by `kid`. */
  | 'alg_not_allowed'
  /** A `crit` header (RFC 7515 §4.1.11): no extension is understood, so none may be critical. */
  | 'crit'
  /** A `b64` header (RFC 7797): the payload must be the base64url JSON claims, nothing else. */
  | 'b64'
  /** `typ` is present and not JWT. */
  | 'typ'
  | 'signature_invalid'
  /** `exp` is missing or not a NumericDate, or `nbf` is not one. */
  | 'claim_invalid'
  | 'expired'
  | 'not_yet_valid';

export class JwsError extends Error {
  readonly failure: JwsFailure;
  /** The claim or header member at fault, when there is one. */
  readonly claim?: string;

  constructor(failure: JwsFailure, message: string, claim?: string) {
    super(message);
    this.name = 'JwsError';
    this.failure = failure;
    if (claim !== undefined) this.claim = claim;
  }
}
