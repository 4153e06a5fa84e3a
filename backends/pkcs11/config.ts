import { z } from 'zod';

/** Config section of the pkcs11 backend (no SDK import here: the schema loads for every backend). */
export const pkcs11Config = z.object({}).strict().prefault({});
