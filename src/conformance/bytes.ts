import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';

/**
 * The one generator of deterministic bytes, for the conformance checks
 * (`blobgate smoke`, the contract suite), the tests' upstreams and the
 * benchmarks: byte i of a stream with seed s is a function of (i, s) alone,
 * so a body of any size is produced lazily (never held whole), any slice of
 * it can be recomputed to check a ranged read, and its sha256 is computed as
 * it streams.
 */
export function patternChunk(offset: number, length: number, seed = 7): Buffer {
  const buf = Buffer.allocUnsafe(length);
  for (let i = 0; i < length; i++) {
    const n = offset + i;
    buf[i] = (n * 31 + seed * 17 + (n >>> 8) * 7 + (n >>> 16) * 3) & 0xff;
  }
  return buf;
}

export interface PatternOptions {
  seed?: number;
  /** Bytes per chunk pushed (default 64 KiB). */
  chunkSize?: number;
  /** Emit an error once this many bytes were produced. */
  failAfter?: number;
  /**
   * Runs after every chunk with the byte count so far; returning `'stall'`
   * leaves the next read pending for good (a check aborts mid-body with it).
   */
  onProgress?: (produced: number) => 'stall' | void;
}

export interface PatternSource {
  body: Readable;
  /** Bytes handed out so far. */
  readonly produced: number;
  /** sha256 (hex) of everything produced; final once the body ended. */
  sha256(): string;
}

/** The error a source with `failAfter` emits. */
export const SOURCE_FAILURE_MESSAGE = 'source failed on purpose (conformance check)';

/** A readable of `size` deterministic bytes, produced lazily, hashed as it goes. */
export function patternSource(size: number, opts: PatternOptions = {}): PatternSource {
  const chunkSize = opts.chunkSize ?? 64 * 1024;
  const hash = createHash('sha256');
  let offset = 0;
  let stalled = false;
  const body = new Readable({
    read() {
      if (stalled) return;
      if (opts.failAfter !== undefined && offset >= opts.failAfter) {
        this.destroy(new Error(SOURCE_FAILURE_MESSAGE));
        return;
      }
      if (offset >= size) {
        this.push(null);
        return;
      }
      let n = Math.min(chunkSize, size - offset);
      if (opts.failAfter !== undefined) n = Math.min(n, Math.max(1, opts.failAfter - offset));
      const chunk = patternChunk(offset, n, opts.seed);
      hash.update(chunk);
      offset += n;
      this.push(chunk);
      if (opts.onProgress?.(offset) === 'stall') stalled = true;
    },
  });
  return {
    body,
    get produced() {
      return offset;
    },
    sha256: () => hash.copy().digest('hex'),
  };
}

/** A readable of `size` deterministic bytes (patternSource's body). */
export function patternStream(size: number, opts: PatternOptions = {}): Readable {
  return patternSource(size, opts).body;
}

/** sha256 (hex) of `size` pattern bytes, computed a MiB at a time. */
export function patternSha256(size: number, seed = 7): string {
  const hash = createHash('sha256');
  const step = 1024 * 1024;
  for (let off = 0; off < size; off += step) hash.update(patternChunk(off, Math.min(step, size - off), seed));
  return hash.digest('hex');
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

/** A whole (small) stream as one buffer; more than `limit` bytes is an error, never a large buffer. */
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

export function sha256Of(buf: Buffer | string): string {
  return createHash('sha256').update(buf).digest('hex');
}
