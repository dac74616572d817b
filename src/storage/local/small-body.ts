import { once } from 'node:events';
import { finished, Writable } from 'node:stream';

/**
 * The sink of a local write whose body was announced small: it keeps the
 * bytes in memory, up to `limit`, so that the write can put them inside its
 * meta file (one durable file per object instead of two; local-driver.ts).
 * The announcement is a hint (WriteRequest.expectedSize): a body that grows
 * past `limit` spills — what was held, then the rest — into the file that
 * `openFile` creates, and the write goes on as a large one. So memory per
 * write stays at `limit` whatever the source sends.
 */
export class SmallBodySink extends Writable {
  /** Copied, not referenced: a chunk may be a slice that keeps a larger socket read alive. */
  private readonly held: Buffer;
  private filled = 0;
  private file: Writable | undefined;

  constructor(
    private readonly limit: number,
    private readonly openFile: () => Writable,
  ) {
    super();
    this.held = Buffer.allocUnsafe(limit);
  }

  /** The whole body when it stayed in memory; undefined once it spilled into the file. */
  get inline(): Buffer | undefined {
    return this.file ? undefined : this.held.subarray(0, this.filled);
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (err?: Error | null) => void): void {
    if (!this.file && this.filled + chunk.length <= this.limit) {
      this.filled += chunk.copy(this.held, this.filled);
      cb();
      return;
    }
    if (!this.file) {
      const file = this.openFile();
      this.file = file;
      file.on('error', (err) => this.destroy(err));
      if (this.filled > 0) file.write(this.held.subarray(0, this.filled));
    }
    if (this.file.write(chunk)) cb();
    else this.file.once('drain', () => cb());
  }

  override _final(cb: (err?: Error | null) => void): void {
    const file = this.file;
    if (!file) {
      cb();
      return;
    }
    // Finished includes the file's close, and so its fsync (`flush`): the write is durable when this stream finishes.
    finished(file, (err) => cb(err));
    file.end();
  }

  override _destroy(err: Error | null, cb: (err?: Error | null) => void): void {
    const file = this.file as (Writable & { closed?: boolean }) | undefined;
    if (!file || file.closed) {
      cb(err);
      return;
    }
    // The temp file may still be opening or writing: it is closed before this stream is, so the caller's unlink comes after.
    const closed = once(file, 'close').then(
      () => undefined,
      () => undefined,
    );
    file.destroy();
    void closed.then(() => cb(err));
  }
}
