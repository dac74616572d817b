import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';

/**
 * Deterministic test bytes: byte i of a stream with seed s is a function of
 * (i, s), so any size can be produced and hashed without holding it in memory.
 */
export function patternChunk(offset: number, length: number, seed = 7): Buffer {
  const buf = Buffer.allocUnsafe(length);
  for (let i = 0; i < length; i++) {
    const n = offset + i;
    buf[i] = (n * 31 + seed * 17 + (n >>> 8) * 7 + (n >>> 16) * 3) & 0xff;
  }
  return buf;
}

/** Printable ASCII test text (a-z), deterministic by offset: inline text tests need valid UTF-8. */
export function asciiChunk(offset: number, length: number): Buffer {
  const buf = Buffer.allocUnsafe(length);
  for (let i = 0; i < length; i++) buf[i] = 97 + ((offset + i) % 26);
  return buf;
}

export interface PatternOptions {
  seed?: number;
  chunkSize?: number;
  /** Emit an error once this many bytes were produced. */
  failAfter?: number;
}

/** A readable of `size` deterministic bytes, produced lazily. */
export function patternStream(size: number, opts: PatternOptions = {}): Readable {
  const chunkSize = opts.chunkSize ?? 64 * 1024;
  let offset = 0;
  return new Readable({
    read() {
      if (opts.failAfter !== undefined && offset >= opts.failAfter) {
        this.destroy(new Error('source failed on purpose (test)'));
        return;
      }
      if (offset >= size) {
        this.push(null);
        return;
      }
      let n = Math.min(chunkSize, size - offset);
      if (opts.failAfter !== undefined) n = Math.min(n, Math.max(1, opts.failAfter - offset));
      this.push(patternChunk(offset, n, opts.seed));
      offset += n;
    },
  });
}

export function patternSha256(size: number, seed = 7): string {
  const hash = createHash('sha256');
  const step = 1024 * 1024;
  for (let off = 0; off < size; off += step) hash.update(patternChunk(off, Math.min(step, size - off), seed));
  return hash.digest('hex');
}

/** sha256 and size of a stream: the same helper the smoke test uses. */
export { digestStream as sha256OfStream } from '../../src/smoke/bytes.js';

export function sha256(buf: Buffer | string): string {
  return createHash('sha256').update(buf).digest('hex');
}

export async function collect(stream: AsyncIterable<Buffer | Uint8Array | string>): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const chunk of stream) parts.push(typeof chunk === 'string' ? Buffer.from(chunk) : Buffer.from(chunk));
  return Buffer.concat(parts);
}
