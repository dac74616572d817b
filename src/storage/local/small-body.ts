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
  private chunks: Buffer[] = [];
  private held = 0;
  private file: Writable | undefined;

  constructor(
    private readonly limit: number,
    private readonly openFile: () => Writable,
  ) {
    super();
  }

  /** The whole body when it stayed in memory; undefined once it spilled into the file. */
  get inline(): Buffer | undefined {
    return this.file ? undefined : Buffer.concat(this.chunks, this.held);
  }

  /** Whether the file was opened (a failed write must wait for this stream's close, then remove it). */
  get spilled(): boolean {
    return this.file !== undefined;
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (err?: Error | null) => void): void {
    if (!this.file && this.held + chunk.length <= this.limit) {
      this.chunks.push(chunk);
      this.held += chunk.length;
      cb();
      return;
    }
    if (!this.file) {
      const file = this.openFile();
      this.file = file;
      file.on('error', (err) => this.destroy(err));
      const held = Buffer.concat(this.chunks, this.held);
      this.chunks = [];
      this.held = 0;
      if (held.length > 0) file.write(held);
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
    if (err) this.chunks = []; // a finished stream is destroyed too (autoDestroy): its bytes are still wanted
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
