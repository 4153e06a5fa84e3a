import { z } from 'zod';

/** Config section of the vault-transit backend (no SDK import here: the schema loads for every backend). */
export const vaultConfig = z.object({}).strict().prefault({});
