// CRC32C (Castagnoli, reflected polynomial 0x82F63B78), table driven.
// Written here on purpose instead of reusing the client's implementation, so that
// the test server checks the client's checksums independently.

const TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0x82f63b78 : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

/** Incremental CRC32C: pass the previous return value as `crc` to continue. */
export function crc32cUpdate(buf: Uint8Array, crc = 0): number {
  let c = ~crc >>> 0;
  for (let i = 0; i < buf.length; i++) c = TABLE[(c ^ buf[i]!) & 0xff]! ^ (c >>> 8);
  return ~c >>> 0;
}

/** GCS representation: base64 of the 4-byte big-endian CRC32C. */
export function crc32cBase64(buf: Uint8Array): string {
  const out = Buffer.alloc(4);
  out.writeUInt32BE(crc32cUpdate(buf), 0);
  return out.toString('base64');
}
