import { createHash, type Hash } from 'node:crypto';
import { Transform, type TransformCallback } from 'node:stream';
import { BlobgateError } from '../errors.js';

/**
 * A pass-through stage that counts bytes, hashes them with sha256 and fails the
 * stream with `cap_exceeded` the moment one byte more than `maxBytes` arrives.
 * Caps fail the stream; they never truncate (docs/storage-contract.md#caps). Every driver
 * runs its body through one of these, so the count and hash are the bytes the
 * store received. `progress`, when given, is told each chunk's size as it
 * passes (a write's progress, WriteRequest.progress): here rather than in a
 * stage of its own, which cost a Transform per chunk.
 */
export class ByteMeter extends Transform {
  readonly maxBytes: number;
  private count = 0;
  private readonly hash: Hash = createHash('sha256');
  private digestHex: string | undefined;

  constructor(
    maxBytes: number,
    private readonly progress?: (bytes: number) => void,
  ) {
    super();
    if (!Number.isSafeInteger(maxBytes) || maxBytes < 0) throw new RangeError(`maxBytes must be a non-negative integer, got ${maxBytes}`);
    this.maxBytes = maxBytes;
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    this.count += chunk.length;
    if (this.count > this.maxBytes) {
      cb(capExceeded(this.maxBytes));
      return;
    }
    this.hash.update(chunk);
    this.progress?.(chunk.length);
    cb(null, chunk);
  }

  override _flush(cb: TransformCallback): void {
    this.digestHex = this.hash.digest('hex');
    cb();
  }

  /** Bytes seen so far. */
  get bytes(): number {
    return this.count;
  }

  /** The sha256 (hex) of all bytes; only after the stream ended. */
  get sha256(): string {
    if (this.digestHex === undefined) throw new Error('ByteMeter.sha256 read before the stream ended');
    return this.digestHex;
  }
}

/**
 * The store's own words for a breach: the storage layer does not know who is
 * writing, so it names no remedy. Callers that know (a step, an upload) say
 * what to change through src/persist/write-cap.ts.
 */
export function capExceeded(maxBytes: number, announced?: number): BlobgateError {
  const seen = announced === undefined ? 'more bytes than that arrived' : `the source announced ${announced} bytes`;
  return new BlobgateError('cap_exceeded', `The body is larger than the write cap of ${maxBytes} bytes (${seen}).`, {
    'max-bytes': maxBytes,
    ...(announced === undefined ? {} : { 'announced-bytes': announced }),
  });
}
