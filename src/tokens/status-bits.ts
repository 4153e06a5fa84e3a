/**
 * The Status List byte array of draft-ietf-oauth-status-list §4 with 1 bit per entry: entry `i`
 * is bit `i % 8` (least significant first) of byte `i / 8`. This issuer uses two values.
 */
export const STATUS_VALID = 0;
export const STATUS_INVALID = 1;

/**
 * The bytes of a list of `size` entries (a multiple of 8) where every entry is INVALID except
 * `valid`. INVALID is the default: an entry never allocated, or whose execution is unknown,
 * ended or past its deadline, can never vouch for a token.
 */
export function encodeStatusBits(size: number, valid: Iterable<number>): Buffer {
  const bytes = Buffer.alloc(size / 8, 0xff);
  for (const idx of valid) {
    if (Number.isInteger(idx) && idx >= 0 && idx < size) bytes[idx >> 3]! &= ~(1 << (idx & 7));
  }
  return bytes;
}

/**
 * The status of entry `idx` in a list of `bits` (1, 2, 4 or 8) bits per entry, or undefined
 * when the list has no such entry.
 */
export function statusAt(bytes: Uint8Array, idx: number, bits = 1): number | undefined {
  if (!Number.isSafeInteger(idx) || idx < 0 || idx >= (bytes.length * 8) / bits) return undefined;
  const bit = idx * bits;
  return (bytes[Math.floor(bit / 8)]! >> (bit % 8)) & ((1 << bits) - 1);
}
