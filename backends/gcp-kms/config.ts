import { z } from 'zod';

/** Config section of the gcp-kms backend (no SDK import here: the schema loads for every backend). */
export const gcpKmsConfig = z.object({}).strict().prefault({});
