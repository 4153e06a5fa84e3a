export function base64url(data: Uint8Array | string): string {
  return (typeof data === 'string' ? Buffer.from(data, 'utf8') : Buffer.from(data)).toString(
    'base64url',
  );
}

/**
 * The one base64url decoder (RFC 7515 §2: RFC 4648 §5 without padding). Buffer's own decoder
 * is lenient: it skips characters outside the alphabet, reads `+` and `/` as `-` and `_`,
 * stops at `=` and ignores the unused bits of the last character. So the text is accepted
 * only if it is the exact encoding of the bytes it decodes to: alphabet only, no padding,
 * unused bits zero. One segment, one spelling (an ECDSA signature still has two valid values).
 */
export function fromBase64url(text: string): Buffer {
  const bytes = Buffer.from(text, 'base64url');
  if (bytes.toString('base64url') !== text) throw new TypeError('not base64url');
  return bytes;
}
