import { createHash } from 'node:crypto';

/**
 * Deterministic test bytes: byte i of a stream with seed s is a function of
 * (i, s), so any size can be produced and hashed without holding it in memory.
 * One generator serves the tests, the conformance checks (`blobgate smoke`,
 * the contract suite) and the benchmarks: src/conformance/bytes.ts.
 */
export { type PatternOptions, digestStream as sha256OfStream, patternChunk, patternSha256, patternStream } from '../../src/conformance/bytes.js';

/** Printable ASCII test text (a-z), deterministic by offset: inline text tests need valid UTF-8. */
export function asciiChunk(offset: number, length: number): Buffer {
  const buf = Buffer.allocUnsafe(length);
  for (let i = 0; i < length; i++) buf[i] = 97 + ((offset + i) % 26);
  return buf;
}

export function sha256(buf: Buffer | string): string {
  return createHash('sha256').update(buf).digest('hex');
}

export async function collect(stream: AsyncIterable<Buffer | Uint8Array | string>): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const chunk of stream) parts.push(typeof chunk === 'string' ? Buffer.from(chunk) : Buffer.from(chunk));
  return Buffer.concat(parts);
}
