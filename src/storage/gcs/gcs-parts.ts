import type { Bucket, File } from '@google-cloud/storage';
import { crc32c } from '@node-rs/crc32';
import type { BufferBudget, BufferLease } from '../buffer-budget.js';
import type { ObjectMeta } from '../driver.js';
import { encodeMeta } from '../meta-codec.js';
import type { StagedUpload } from '../staged-write.js';
import { nextRead } from '../stoppable-read.js';
import { type ComposeSource, compose, mapLimit, reduceSources } from './gcs-compose.js';
import { crc32cToBase64 } from './crc32c.js';
import { gcsStatus } from './gcs-errors.js';
import { bounded, removeObject } from './gcs-staging.js';

/**
 * A parallel composite upload (what `gcloud storage cp` does for large
 * files): the body is cut into parts of `partSize` bytes, each part is one
 * single-request upload to `<staging name>/part-NNNNN`, `parallel` of them
 * in flight, and the publish composes them (gcs-compose.ts) into the final
 * name with the complete metadata in the compose request itself. More than
 * 32 parts are first composed into intermediates `<staging name>/tier-L-NNNNN`.
 * Everything lives under the write's staging name, inside
 * `<prefix>.blobgate-staging/`, where the sweep (gcs-sweep.ts) and the
 * lifecycle rule find what a crash left.
 *
 * Why this and not the alternatives (issue 18):
 * - One resumable session (GcsStagedUpload) sends one chunk at a time: each
 *   chunk waits for its answer before the next is sent, so the upstream read
 *   stalls meanwhile. Parts overlap reading the upstream with uploading.
 *   That pays where the store's latency bounds a chunk's round trip; against
 *   the project's test server on a loaded 2-core machine it was not faster
 *   (README "Benchmarks": CPU, not latency, bounded both paths there).
 * - GCS's XML multipart upload API (TransferManager.uploadFileInChunks) also
 *   sends parts in parallel, but fixes the object's metadata at initiation,
 *   before the sha256 is known: the sha256 would need a sidecar or a later
 *   rewrite, and the XML API has its own signing and error shapes. Compose
 *   takes the metadata at the end, atomically, in the JSON API the driver
 *   speaks anyway.
 * - Compose replaces the rewrite publish of the resumable path: one request
 *   that makes the object with all its meta, no byte copied.
 *
 * Caveats, in the README: a composite object has a CRC32C but no MD5; parts
 * in a Nearline/Coldline/Archive bucket incur early-deletion charges (use
 * `parallel-parts: 1` there, the resumable path); compose needs the same
 * permissions as the rest (objects.create, .get, .delete).
 *
 * Integrity: each part is sent with its CRC32C in the upload's metadata,
 * which GCS checks against the bytes it received (a mismatch fails the
 * request); the compose pins every source by generation, and the composite's
 * size is checked against the body's.
 *
 * Memory: each part is one buffer of the process's buffer budget
 * (buffer-budget.ts, `limits.buffer-bytes`, shared with S3's parts and the
 * resumable path's chunks), filled by copying the body's chunks and given
 * back once its request settled (the client's retries included): at most
 * `parallel` parts in flight plus the one being filled, (parallel + 1) ×
 * partSize per transfer, and what all transfers hold stays within the
 * budget. Waiting for a buffer stops reading the body (backpressure); the
 * wait ends when a part comes back or the upload is stopped.
 *
 * Retries: every part request carries `ifGenerationMatch: 0` (the name is
 * fresh), so a retry after a lost answer meets its own part with a 412; it
 * is accepted when the live part has this part's size and CRC32C.
 */
export class GcsPartsUpload implements StagedUpload {
  private readonly parts: ComposeSource[] = [];
  /** Every name a request may have created and no delete has removed yet. */
  private readonly live = new Set<string>();
  /** Names whose creating request has not settled: a delete now does not make them gone. */
  private readonly creating = new Set<string>();
  /** Requests not settled yet (part uploads, intermediate composes). */
  private readonly pending = new Set<Promise<unknown>>();
  private failure: { err: unknown } | undefined;
  /** Aborted by stop(): ends a wait for a part buffer. */
  private readonly stopper = new AbortController();
  /** Bytes handed to part uploads. */
  private bytes = 0;

  constructor(
    private readonly bucket: Bucket,
    /** The write's staging name: every object of this upload is under `<stagingName>/`. */
    readonly name: string,
    private readonly partSize: number,
    private readonly parallel: number,
    /** Where part buffers come from (shared by every transfer of the process). */
    private readonly budget: BufferBudget,
  ) {}

  /** Reads `source` into parts and uploads them, `parallel` at a time; resolves once every part is stored. */
  async send(source: AsyncIterable<Buffer>): Promise<void> {
    let lease: BufferLease | undefined;
    let filled = 0;
    const reads = source[Symbol.asyncIterator]();
    try {
      for (;;) {
        // A failed part stops the upload: that ends this read too, however long the source keeps silent.
        const read = await nextRead(reads, this.stopper.signal, () => (this.failure ? this.failure.err : stoppedError()));
        if (read.done) break;
        const data = read.value;
        let off = 0;
        while (off < data.length) {
          // A first buffer goes ahead of other transfers' next ones (buffer-budget.ts): no transfer starves.
          lease ??= await this.budget.acquire(this.partSize, this.stopper.signal, this.parts.length === 0);
          const n = data.copy(lease.buffer, filled, off);
          off += n;
          filled += n;
          if (filled === this.partSize) {
            const full = lease;
            lease = undefined;
            filled = 0;
            await this.startPart(full, this.partSize);
          }
        }
      }
      if (filled > 0 || this.parts.length === 0) {
        const last = lease;
        lease = undefined;
        await this.startPart(last, filled);
      }
      await Promise.all(this.pending);
      this.throwIfFailed();
    } catch (err) {
      // A failed part stopped the upload: its error, not what the stop made of a wait, is what happened.
      throw this.failure ? this.failure.err : err;
    } finally {
      if (this.stopper.signal.aborted) void reads.return?.()?.catch(() => undefined);
      lease?.release(); // a failure while this one was being filled: nothing reads it
    }
  }

  /**
   * Publishes the parts at `file` with the final meta: intermediates first
   * when there are more than 32, then one compose through `commit` (never
   * cancelled; commit-or-confirm decides after a failure, staged-write.ts).
   * No destination precondition, like the rewrite publish: the last write
   * of a key wins, and a compose sent twice publishes the same object.
   */
  async publish(file: File, meta: ObjectMeta, commit: (send: () => Promise<unknown>) => Promise<void>): Promise<void> {
    const sources = await reduceSources(this.bucket, this.parts, {
      nameOf: (level, index) => `${this.name}/tier-${level}-${pad(index)}`,
      destination: { contentType: 'application/octet-stream', metadata: {} },
      parallel: this.parallel,
      created: (name) => this.live.add(name),
      // Consumed sources go at once (they would be deleted after the publish anyway): storage is billed meanwhile.
      consumed: (used) => void this.track(mapLimit(used, DELETE_PARALLEL, (s) => this.remove1(s.name))).catch(() => undefined),
    });
    this.throwIfStopped();
    if (this.bytes !== meta.size) throw new Error(`the parts of ${this.name} hold ${this.bytes} bytes, the body had ${meta.size}`);
    await commit(() => compose(file, sources, { contentType: meta.contentType, metadata: encodeMeta(meta) }));
  }

  /**
   * Stops at once: no part or compose is started any more, and a wait for a
   * part buffer or for the body's next bytes ends. Requests in flight finish (a simple
   * upload cannot be cancelled), and settle() waits for them.
   */
  stop(): void {
    if (!this.stopper.signal.aborted) this.stopper.abort();
  }

  /**
   * Waits (bounded) for the requests in flight, then returns the cleanup:
   * delete every part and intermediate that may exist. It rejects while a
   * request is still in flight (it may yet create its object), so the
   * janitor runs it again until nothing can remain.
   */
  async settle(): Promise<() => Promise<void>> {
    await bounded(Promise.allSettled(this.pending));
    return async () => {
      const inFlight = this.pending.size;
      await this.removeAll();
      if (inFlight > 0) throw new Error(`${inFlight} part request(s) of ${this.name} were still in flight`);
    };
  }

  /** After the publish: deletes the parts and intermediates. Safe to run again. */
  remove(): Promise<void> {
    return this.removeAll();
  }

  private async removeAll(): Promise<void> {
    await mapLimit([...this.live], DELETE_PARALLEL, (name) => this.remove1(name));
  }

  private async remove1(name: string): Promise<void> {
    await removeObject(this.bucket.file(name));
    if (!this.creating.has(name)) this.live.delete(name);
  }

  /**
   * Waits for a free slot, then starts the upload of one part (it runs on;
   * send() waits for all at the end). The part's buffer is this upload's
   * from here: given back once its request settled, or at once if none starts.
   * Undefined only for an empty body (one empty part).
   */
  private async startPart(lease: BufferLease | undefined, size: number): Promise<void> {
    try {
      while (this.pending.size >= this.parallel) await Promise.race(this.pending);
      this.throwIfFailed();
      this.throwIfStopped();
    } catch (err) {
      lease?.release();
      throw err;
    }
    const index = this.parts.length;
    const source: ComposeSource = { name: `${this.name}/part-${pad(index)}`, generation: undefined };
    this.parts.push(source);
    this.live.add(source.name);
    this.creating.add(source.name);
    this.bytes += size;
    const data = lease ? lease.buffer.subarray(0, size) : Buffer.alloc(0);
    const upload = uploadPart(this.bucket.file(source.name), data, size).then(
      (generation) => {
        source.generation = generation;
        this.creating.delete(source.name);
      },
      (err: unknown) => {
        this.creating.delete(source.name);
        throw err;
      },
    );
    void upload.then(
      () => lease?.release(),
      () => lease?.release(), // the request settled: nothing reads the buffer any more
    );
    this.track(upload).catch((err: unknown) => this.fail(err));
  }

  /** Keeps `p` in `pending` until it settles. */
  private track<T>(p: Promise<T>): Promise<T> {
    this.pending.add(p);
    const done = (): void => void this.pending.delete(p);
    p.then(done, done);
    return p;
  }

  /** A part failed: the first failure is what send() rejects with; everything else stops (a writer waiting for a buffer or the body included). */
  private fail(err: unknown): void {
    this.failure ??= { err };
    this.stop();
  }

  private throwIfFailed(): void {
    if (this.failure) throw this.failure.err;
  }

  private throwIfStopped(): void {
    if (this.stopper.signal.aborted) throw stoppedError();
  }
}

function stoppedError(): Error {
  return new Error('blobgate stopped the GCS upload');
}

/** Deletes in flight at once, for the parts after a publish or a failure. */
const DELETE_PARALLEL = 16;

/** The precondition of a write to a name that must not exist yet. */
const FRESH = Object.freeze({ ifGenerationMatch: 0 });

/**
 * One part: a single-request upload through `File.save` (the client retries
 * it: the source is an iterable it can read again, as in gcs-write.ts
 * putWhole). Resolves with the part's generation.
 */
async function uploadPart(file: File, data: Buffer, size: number): Promise<string | number | undefined> {
  const crc32cB64 = crc32cToBase64(crc32c(data));
  try {
    // validation false: GCS checks the crc32c of the metadata against the bytes itself, and the client would hash them again.
    await file.save(() => [data].values(), {
      resumable: false,
      validation: false,
      metadata: { contentType: 'application/octet-stream', crc32c: crc32cB64 },
      preconditionOpts: FRESH,
    });
    return file.metadata.generation;
  } catch (err) {
    if (gcsStatus(err) !== 412) throw err;
    // A retry after a lost answer meets the part its first attempt stored.
    const [md] = await file.getMetadata();
    if (Number(md.size) === size && md.crc32c === crc32cB64) return md.generation;
    throw err;
  }
}

const pad = (n: number): string => String(n).padStart(5, '0');
