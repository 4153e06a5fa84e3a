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

export function rawToDer(raw: Uint8Array): Uint8Array {
  if (raw.length === 0 || raw.length % 2 !== 0) throw new TypeError('invalid raw ECDSA signature');
  const half = raw.length / 2;
  const integer = (bytes: Uint8Array): number[] => {
    let start = 0;
    while (start < bytes.length - 1 && bytes[start] === 0) start++;
    const body = Array.from(bytes.subarray(start));
    if (body[0]! & 0x80) body.unshift(0);
    return [0x02, ...encodeLength(body.length), ...body];
  };
  const body = [...integer(raw.subarray(0, half)), ...integer(raw.subarray(half))];
  return Uint8Array.from([0x30, ...encodeLength(body.length), ...body]);
}

function encodeLength(length: number): number[] {
  if (length < 0x80) return [length];
  if (length < 0x100) return [0x81, length];
  return [0x82, length >> 8, length & 0xff];
}
