import { z } from 'zod';

/** Config section of the aws-kms backend (no SDK import here: the schema loads for every backend). */
export const awsKmsConfig = z.object({}).strict().prefault({});
