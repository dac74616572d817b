// CRC32C (Castagnoli, reflected polynomial 0x82F63B78), table driven.
// Written here on purpose instead of reusing the client's implementation, so that
// the test server checks the client's checksums independently.

// Slicing-by-8 (eight tables, eight bytes a step): the bench pushes GiBs through this
// server on one thread, and the one-table loop cost it ~2.6 s of CPU per GiB (profile of
// the server's process), more than any client spent.
const TABLES = (() => {
  const t = Array.from({ length: 8 }, () => new Uint32Array(256));
  const t0 = t[0]!;
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0x82f63b78 : c >>> 1;
    t0[n] = c >>> 0;
  }
  for (let n = 0; n < 256; n++) {
    for (let k = 1; k < 8; k++) t[k]![n] = (t0[t[k - 1]![n]! & 0xff]! ^ (t[k - 1]![n]! >>> 8)) >>> 0;
  }
  return t;
})();
const [T0, T1, T2, T3, T4, T5, T6, T7] = TABLES as [Uint32Array, Uint32Array, Uint32Array, Uint32Array, Uint32Array, Uint32Array, Uint32Array, Uint32Array];

/** Incremental CRC32C: pass the previous return value as `crc` to continue. */
export function crc32cUpdate(buf: Uint8Array, crc = 0): number {
  let c = ~crc >>> 0;
  let i = 0;
  const end8 = buf.length - (buf.length % 8);
  for (; i < end8; i += 8) {
    const lo = (c ^ (buf[i]! | (buf[i + 1]! << 8) | (buf[i + 2]! << 16) | (buf[i + 3]! << 24))) >>> 0;
    c =
      T7[lo & 0xff]! ^ T6[(lo >>> 8) & 0xff]! ^ T5[(lo >>> 16) & 0xff]! ^ T4[lo >>> 24]! ^
      T3[buf[i + 4]!]! ^ T2[buf[i + 5]!]! ^ T1[buf[i + 6]!]! ^ T0[buf[i + 7]!]!;
  }
  for (; i < buf.length; i++) c = T0[(c ^ buf[i]!) & 0xff]! ^ (c >>> 8);
  return ~c >>> 0;
}

/** GCS representation: base64 of the 4-byte big-endian CRC32C. */
export function crc32cBase64(buf: Uint8Array): string {
  const out = Buffer.alloc(4);
  out.writeUInt32BE(crc32cUpdate(buf), 0);
  return out.toString('base64');
}

// CRC32C of a concatenation from the CRCs of its pieces, without reading the bytes again
// (zlib's crc32_combine, for the Castagnoli polynomial): what a compose needs, since GCS
// gives a composite object the CRC32C of its bytes without rereading them.

/** The GF(2) 32×32 matrix `mat` applied to the vector `vec`. */
function gf2Times(mat: Uint32Array, vec: number): number {
  let sum = 0;
  for (let i = 0; vec !== 0; i++, vec >>>= 1) if (vec & 1) sum ^= mat[i]!;
  return sum >>> 0;
}

function gf2Square(mat: Uint32Array): Uint32Array<ArrayBuffer> {
  const out = new Uint32Array(32);
  for (let n = 0; n < 32; n++) out[n] = gf2Times(mat, mat[n]!);
  return out;
}

/** CRC32C of A‖B from crc(A), crc(B) and B's length. */
export function crc32cCombine(crcA: number, crcB: number, lengthB: number): number {
  if (lengthB <= 0) return crcA >>> 0;
  // The operator that appends one zero bit, then squared to 2 and 4 bits.
  let odd: Uint32Array<ArrayBuffer> = new Uint32Array(32);
  odd[0] = 0x82f63b78;
  for (let n = 1, row = 1; n < 32; n++, row <<= 1) odd[n] = row >>> 0;
  let even = gf2Square(odd);
  odd = gf2Square(even);
  let crc = crcA >>> 0;
  let len = lengthB;
  // Append lengthB zero bytes to A's CRC (one square per bit of the length), then xor B's.
  do {
    even = gf2Square(odd);
    if (len % 2) crc = gf2Times(even, crc);
    len = Math.floor(len / 2);
    if (len === 0) break;
    odd = gf2Square(even);
    if (len % 2) crc = gf2Times(odd, crc);
    len = Math.floor(len / 2);
  } while (len !== 0);
  return (crc ^ crcB) >>> 0;
}

/** The 4-byte big-endian form GCS uses, from and to base64. */
export const crc32cFromBase64 = (b64: string): number => Buffer.from(b64, 'base64').readUInt32BE(0);
export function crc32cToBase64(crc: number): string {
  const out = Buffer.alloc(4);
  out.writeUInt32BE(crc >>> 0, 0);
  return out.toString('base64');
}
