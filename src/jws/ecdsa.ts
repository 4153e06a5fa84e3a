/**
 * ECDSA signatures come in two encodings: ASN.1 DER `SEQUENCE { r INTEGER, s INTEGER }`
 * (AWS KMS, Cloud KMS, OpenSSL) and the fixed-size r||s that JWS requires (RFC 7518 §3.4).
 */

export function derToRaw(der: Uint8Array, coordinateSize: number): Uint8Array {
  const fail = (why: string): never => {
    throw new TypeError(`invalid DER ECDSA signature: ${why}`);
  };
  let offset = 0;
  const readLength = (): number => {
    const first = der[offset++];
    if (first === undefined) fail('truncated');
    if (first! < 0x80) return first!;
    const bytes = first! & 0x7f;
    if (bytes === 0 || bytes > 2) fail('bad length');
    let length = 0;
    for (let i = 0; i < bytes; i++) length = (length << 8) | (der[offset++] ?? fail('truncated'));
    return length;
  };
  const readInteger = (): Uint8Array => {
    if (der[offset++] !== 0x02) fail('expected INTEGER');
    const length = readLength();
    if (length === 0 || offset + length > der.length) fail('bad INTEGER length');
    let value = der.subarray(offset, offset + length);
    offset += length;
    if (value[0]! & 0x80) fail('negative INTEGER');
    while (value.length > 1 && value[0] === 0) value = value.subarray(1);
    if (value.length > coordinateSize) fail('INTEGER too large for curve');
    return value;
  };
  if (der[offset++] !== 0x30) fail('expected SEQUENCE');
  const seqLength = readLength();
  if (offset + seqLength !== der.length) fail('trailing or missing bytes');
  const r = readInteger();
  const s = readInteger();
  if (offset !== der.length) fail('trailing bytes');
  const raw = new Uint8Array(coordinateSize * 2);
  raw.set(r, coordinateSize - r.length);
  raw.set(s, coordinateSize * 2 - s.length);
  return raw;
}

/** DER of a raw r||s (on the verify path of every token: built with plain byte copies). */
export function rawToDer(raw: Uint8Array): Uint8Array {
  if (raw.length === 0 || raw.length % 2 !== 0) throw new TypeError('invalid raw ECDSA signature');
  const half = raw.length / 2;
  const r = minimalInteger(raw.subarray(0, half));
  const s = minimalInteger(raw.subarray(half));
  const bodyLength = integerLength(r) + integerLength(s);
  // Two length bytes at most: far beyond any curve (P-521 needs one).
  if (bodyLength > 0xffff) throw new TypeError('raw ECDSA signature too long');
  const out = new Uint8Array(1 + lengthOfLength(bodyLength) + bodyLength);
  let offset = 0;
  const writeLength = (length: number) => {
    if (length >= 0x100) out.set([0x82, length >> 8, length & 0xff], offset);
    else if (length >= 0x80) out.set([0x81, length], offset);
    else out[offset] = length;
    offset += lengthOfLength(length);
  };
  const writeInteger = (value: Uint8Array) => {
    out[offset++] = 0x02;
    const padded = value[0]! & 0x80 ? 1 : 0;
    writeLength(value.length + padded);
    if (padded) out[offset++] = 0;
    out.set(value, offset);
    offset += value.length;
  };
  out[offset++] = 0x30;
  writeLength(bodyLength);
  writeInteger(r);
  writeInteger(s);
  return out;
}

/** The integer without leading zero bytes (one zero byte stays for the value 0). */
function minimalInteger(bytes: Uint8Array): Uint8Array {
  let start = 0;
  while (start < bytes.length - 1 && bytes[start] === 0) start++;
  return bytes.subarray(start);
}

/** Tag, length and content of a DER INTEGER (a zero byte in front of a high first bit). */
function integerLength(value: Uint8Array): number {
  const content = value.length + (value[0]! & 0x80 ? 1 : 0);
  return 1 + lengthOfLength(content) + content;
}

function lengthOfLength(length: number): number {
  return length < 0x80 ? 1 : length < 0x100 ? 2 : 3;
}
