/**
 * CRC32C (Castagnoli, reflected polynomial 0x82F63B78), the checksum Cloud KMS puts on every
 * request and response body so corruption between the client and the HSM is caught
 * (https://cloud.google.com/kms/docs/data-integrity-guidelines). Payloads here are a digest, a
 * signature or a PEM, so a plain byte-wise table is fast enough and saves a dependency.
 */
const TABLE = (() => {
  const table = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0x82f63b78 ^ (c >>> 1) : c >>> 1;
    table[n] = c >>> 0;
  }
  return table;
})();

export function crc32c(data: Uint8Array | string): number {
  const bytes = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
  let crc = 0xffffffff;
  for (const byte of bytes) crc = TABLE[(crc ^ byte) & 0xff]! ^ (crc >>> 8);
  return (crc ^ 0xffffffff) >>> 0;
}

/**
 * The value of a `google.protobuf.Int64Value` as the client hands it over (number, string or
 * Long, depending on the loader options); undefined when the field is absent.
 */
export function int64Value(field: { value?: unknown } | null | undefined): number | undefined {
  if (field === null || field === undefined) return undefined;
  const value = field.value;
  if (value === null || value === undefined) return 0;
  const parsed = Number(typeof value === 'object' ? String(value) : value);
  return Number.isSafeInteger(parsed) ? parsed : Number.NaN;
}
