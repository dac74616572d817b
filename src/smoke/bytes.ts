import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';

/**
 * Deterministic smoke-test bytes: byte i is a function of i alone, so a body
 * of any size is produced lazily (never held whole), any slice of it can be
 * recomputed to check a ranged read, and its sha256 is computed as it streams.
 */
export function smokeBytes(offset: number, length: number): Buffer {
  const buf = Buffer.allocUnsafe(length);
  for (let i = 0; i < length; i++) {
    const n = offset + i;
    buf[i] = (n * 131 + (n >>> 8) * 17 + (n >>> 16) * 5 + 0x5b) & 0xff;
  }
  return buf;
}

const CHUNK = 64 * 1024;

export interface SmokeSource {
  body: Readable;
  /** Bytes handed out so far. */
  readonly produced: number;
  /** sha256 (hex) of everything produced; final once the body ended. */
  sha256(): string;
}

/**
 * A readable of `size` deterministic bytes. `onProgress` runs after every
 * chunk with the byte count so far; returning `'stall'` leaves the next read
 * pending forever (the abort check uses it to abort mid-body).
 */
export function smokeSource(size: number, onProgress?: (produced: number) => 'stall' | void): SmokeSource {
  const hash = createHash('sha256');
  let produced = 0;
  let stalled = false;
  const body = new Readable({
    highWaterMark: CHUNK,
    read() {
      if (stalled) return;
      if (produced >= size) {
        this.push(null);
        return;
      }
      const n = Math.min(CHUNK, size - produced);
      const chunk = smokeBytes(produced, n);
      hash.update(chunk);
      produced += n;
      this.push(chunk);
      if (onProgress?.(produced) === 'stall') stalled = true;
    },
  });
  return {
    body,
    get produced() {
      return produced;
    },
    sha256: () => hash.copy().digest('hex'),
  };
}

/** sha256 and size of a stream, consumed to its end. */
export async function digestStream(stream: AsyncIterable<Buffer | Uint8Array | string>): Promise<{ sha256: string; size: number }> {
  const hash = createHash('sha256');
  let size = 0;
  for await (const chunk of stream) {
    const buf = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
    size += buf.length;
    hash.update(buf);
  }
  return { sha256: hash.digest('hex'), size };
}

/** A whole (small) stream as one buffer. */
export async function collectStream(stream: AsyncIterable<Buffer | Uint8Array | string>, limit = 16 * 1024 * 1024): Promise<Buffer> {
  const parts: Buffer[] = [];
  let size = 0;
  for await (const chunk of stream) {
    const buf = typeof chunk === 'string' ? Buffer.from(chunk) : Buffer.from(chunk);
    size += buf.length;
    if (size > limit) throw new Error(`read more than ${limit} bytes where a small object was expected`);
    parts.push(buf);
  }
  return Buffer.concat(parts);
}

export function sha256Of(buf: Buffer): string {
  return createHash('sha256').update(buf).digest('hex');
}
