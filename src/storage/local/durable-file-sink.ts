import { close, fdatasync, fsync, open, write, writev } from 'node:fs';
import { Writable } from 'node:stream';

export interface DurableFileSinkOptions {
  /** Buffered bytes before `write()` asks the producer to wait (one writev takes them all). */
  highWaterMark: number;
  /**
   * Start an fdatasync of the file each time this many more bytes have been
   * written, without waiting for it; 0: only the fsync at the end.
   */
  syncEveryBytes: number;
}

/**
 * A new file (`wx`: never an existing one) written from a stream and fsynced
 * before the stream finishes, so a file renamed after 'finish' is durable.
 *
 * Why not fs.WriteStream with `flush: true`: it leaves every dirty page to the
 * one fsync at close, and below the kernel's background writeback threshold
 * (10% of RAM) nothing is written back before that, so a 1 GiB write spent
 * ~40% of its time in that last fsync while the network sat idle. Here an
 * fdatasync starts in the thread pool every `syncEveryBytes` and runs while
 * the next bytes are read, hashed and written, so the disk works from the
 * start and the final fsync has only the tail (and the inode) left. At most
 * one early sync is in flight: when the disk is slower than the network the
 * next one starts only after the last one ended, so the writer is never held
 * back by them; the page cache absorbs the difference as before.
 *
 * Alternatives weighed (src/storage/local/local-driver.ts SINK_SYNC_BYTES has
 * the measurements): sync_file_range(SYNC_FILE_RANGE_WRITE) and
 * posix_fadvise(DONTNEED), the usual levers, are not reachable from Node
 * without a native addon; opening with O_DSYNC makes every writev wait for the
 * disk, so reading stops while it does; awaiting each periodic fdatasync
 * before taking more bytes does the same every N MiB.
 *
 * The file descriptor is closed only after the write and the sync in flight
 * have returned (a stream may be destroyed while either runs), so neither can
 * land on a reused descriptor number.
 */
export class DurableFileSink extends Writable {
  readonly path: string;
  private fd: number | undefined;
  private readonly syncEvery: number;
  private written = 0;
  private syncedMark = 0;
  /** The early sync in flight, if any; resolves when it has returned. */
  private syncing: Promise<void> | undefined;
  /** The write in flight, if any (Writable runs one at a time). */
  private writing: Promise<void> | undefined;
  private syncError: Error | undefined;
  /** Early fdatasyncs started so far (the final fsync not counted). */
  earlySyncs = 0;

  constructor(path: string, opts: DurableFileSinkOptions) {
    super({ highWaterMark: opts.highWaterMark });
    this.path = path;
    this.syncEvery = opts.syncEveryBytes;
  }

  override _construct(cb: (err?: Error | null) => void): void {
    open(this.path, 'wx', 0o666, (err, fd) => {
      if (err) return cb(err);
      this.fd = fd;
      cb();
    });
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (err?: Error | null) => void): void {
    this.writeAll([chunk], cb);
  }

  override _writev(chunks: Array<{ chunk: Buffer }>, cb: (err?: Error | null) => void): void {
    this.writeAll(
      chunks.map((c) => c.chunk),
      cb,
    );
  }

  /** Writes every byte of `buffers` (a short write continues where it stopped), then maybe starts an early sync. */
  private writeAll(buffers: Buffer[], cb: (err?: Error | null) => void): void {
    if (this.syncError) return cb(this.syncError);
    const fd = this.fd!;
    let settle!: () => void;
    this.writing = new Promise<void>((resolve) => (settle = resolve));
    const finish = (err?: Error | null): void => {
      this.writing = undefined;
      settle();
      if (!err) this.maybeSync();
      cb(err);
    };
    const step = (bufs: Buffer[]): void => {
      const done = (err: NodeJS.ErrnoException | null, n: number): void => {
        if (err) return finish(err);
        this.written += n;
        let rest = n;
        while (bufs.length && rest >= bufs[0]!.length) rest -= bufs.shift()!.length;
        if (bufs.length === 0) return finish();
        bufs[0] = bufs[0]!.subarray(rest);
        step(bufs);
      };
      if (bufs.length === 1) write(fd, bufs[0]!, 0, bufs[0]!.length, null, done);
      else writev(fd, bufs, null, done);
    };
    step(buffers);
  }

  private maybeSync(): void {
    if (this.syncEvery <= 0 || this.syncing || this.destroyed || this.fd === undefined || this.written - this.syncedMark < this.syncEvery) return;
    const fd = this.fd;
    this.syncedMark = this.written;
    this.earlySyncs++;
    this.syncing = new Promise<void>((resolve) => {
      fdatasync(fd, (err) => {
        if (err) this.syncError ??= err;
        this.syncing = undefined;
        resolve();
      });
    });
  }

  /** Resolves when no write or sync is running on the descriptor. */
  private async idle(): Promise<void> {
    while (this.writing || this.syncing) await Promise.all([this.writing, this.syncing]);
  }

  override _final(cb: (err?: Error | null) => void): void {
    void this.idle().then(() => {
      if (this.syncError) return cb(this.syncError);
      fsync(this.fd!, (err) => cb(err));
    });
  }

  override _destroy(err: Error | null, cb: (err?: Error | null) => void): void {
    // A stream can be destroyed while a write is still in the thread pool: wait for it as for a sync.
    void this.idle().then(() => {
      const fd = this.fd;
      this.fd = undefined;
      if (fd === undefined) return cb(err);
      close(fd, (closeErr) => cb(err ?? closeErr));
    });
  }
}
