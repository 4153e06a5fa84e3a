export function base64url(data: Uint8Array | string): string {
  return (typeof data === 'string' ? Buffer.from(data, 'utf8') : Buffer.from(data)).toString(
    'base64url',
  );
}

/** Strict decoding: Buffer silently skips characters outside the alphabet, we refuse them. */
export function fromBase64url(text: string): Buffer {
  if (!/^[A-Za-z0-9_-]*$/.test(text) || text.length % 4 === 1) {
    throw new TypeError('not base64url');
  }
  return Buffer.from(text, 'base64url');
}
