export interface GoogleExternalAccountOptions {
  /**
   * The workload identity provider, as the token's audience and STS audience:
   * `//iam.googleapis.com/projects/NUMBER/locations/global/workloadIdentityPools/POOL/providers/PROVIDER`.
   */
  audience: string;
  /** The file TokenFileWriter keeps fresh. */
  tokenFile: string;
  /** Impersonate this service account (optional; direct resource access otherwise). */
  serviceAccountEmail?: string;
}

/**
 * The `external_account` credential configuration Google client libraries read through
 * GOOGLE_APPLICATION_CREDENTIALS: it names the token file, which they re-read on expiry.
 *
 * @example
 * writeFileSync('/run/wfid/gcp.json', JSON.stringify(googleExternalAccount({ audience, tokenFile })));
 */
export function googleExternalAccount(
  options: GoogleExternalAccountOptions,
): Record<string, unknown> {
  return {
    type: 'external_account',
    audience: options.audience,
    subject_token_type: 'urn:ietf:params:oauth:token-type:jwt',
    token_url: 'https://sts.googleapis.com/v1/token',
    credential_source: { file: options.tokenFile, format: { type: 'text' } },
    ...(options.serviceAccountEmail
      ? {
          service_account_impersonation_url: `https://iamcredentials.googleapis.com/v1/projects/-/serviceAccounts/${encodeURIComponent(options.serviceAccountEmail)}:generateAccessToken`,
        }
      : {}),
  };
}
