import type { BackendPlugin } from '../../src/keys/backend.js';
import { type AwsKmsConfig, awsKmsConfig } from './config.js';

/** `awskms://[endpoint]/<key id, ARN or alias>`: AWS KMS, config section `aws_kms`. */
export const awsKmsPlugin = {
  name: 'aws-kms',
  scheme: 'awskms:',
  section: 'aws_kms',
  schema: awsKmsConfig,
  open: async (options) => (await import('./index.js')).createBackend(options),
} as const satisfies BackendPlugin<AwsKmsConfig>;
