import { z } from 'zod';
import { parseDuration } from './duration.js';

/*
 * Field types shared by the main schema and the backend sections. They live apart from
 * schema.ts because schema.ts learns the sections from backends/registry.ts: a section that
 * imported them from schema.ts would form an import cycle (refused by `npm run lint`).
 */

/** A duration string (`20s`, `10m`, `30d`) validated and turned into milliseconds. */
export const duration = z.union([z.string(), z.number()]).transform((value, ctx) => {
  const ms = typeof value === 'number' ? value * 1000 : parseDuration(value);
  if (ms === null || !Number.isFinite(ms) || ms < 0) {
    ctx.addIssue({
      code: 'custom',
      message: `not a duration: ${String(value)} (use e.g. 20s, 10m, 30d)`,
    });
    return z.NEVER;
  }
  return ms;
});

/** Booleans from YAML or env text; `z.coerce.boolean` would read "false" as true. */
export const flag = z.union([
  z.boolean(),
  z
    .enum(['true', 'false', '1', '0', 'yes', 'no'])
    .transform((text) => ['true', '1', 'yes'].includes(text)),
]);
