import { type CompletedPart, CompleteMultipartUploadCommand, CreateMultipartUploadCommand, type S3Client, UploadPartCommand } from '@aws-sdk/client-s3';
import { BlobgateError } from '../../errors.js';
import type { BufferBudget, BufferLease } from '../buffer-budget.js';
import type { StagedUpload } from '../staged-write.js';
import { nextRead } from '../stoppable-read.js';
import { abortUpload } from './staging.js';
import { bareEtag, multipartEtag } from './s3-digests.js';

/**
 * blobgate's own multipart loop (replacing @aws-sdk/lib-storage's `Upload`)
 * straight to the final key (s3-write.ts has the whole write). Why not
 * lib-storage: it allocates a fresh Buffer per part and concatenates, so
 * finished parts wait for the GC (measured ~50 MiB at 4 GiB); its requests
 * are not abortable, its abort does not wait for them (#2311) and once
 * skipped the abort (#8299), which took a proxy client to work around; and
 * it cannot take part buffers from a budget shared by all transfers.
 *
 * - Part buffers come from the process's BufferBudget: the head buffer the
 *   writer already filled is part 1, each later part waits for a buffer
 *   (backpressure on the body) and is given back once its UploadPart
 *   settled (retries included), to be reused by the next part of any write.
 * - At most `queueSize` UploadPart requests are in flight; each carries the
 *   stop signal, so stop() cancels them at the HTTP layer.
 * - Each part's ETag (its MD5 on S3 without SSE-KMS/SSE-C, and on fauxqs) is
 *   kept, so the object's ETag is predicted before Complete (multipartEtag).
 *   The parts are not hashed here: MD5 costs ~1.5 s of CPU per GiB, and a
 *   wrong prediction (a store whose part ETags are not MD5s) only means the
 *   Complete answers another ETag, which the write notices (s3-write.ts).
 * - With the client's checksums on (`when-supported`, client.ts) the upload
 *   is created with ChecksumAlgorithm CRC32, the SDK sends each part's CRC32,
 *   and the Complete lists them, as S3 requires of such an upload (and as
 *   lib-storage did).
 * - CreateMultipartUpload and CompleteMultipartUpload are never cancelled
 *   mid-flight: a cancelled request may still take effect, and its UploadId
 *   (or the completed object) would be unknown to us.
 */
export interface PartUploadTarget {
  client: S3Client;
  bucket: string;
  objectKey: string;
  contentType: string;
  /** User metadata fixed at CreateMultipartUpload (everything but the sha256, plus the sidecar marker). */
  metadata: Record<string, string>;
  partSize: number;
  queueSize: number;
  budget: BufferBudget;
  /** S3's limit on parts. */
  maxParts: number;
}

export class S3PartUpload implements StagedUpload {
  readonly name: string;
  private uploadId: string | undefined;
  private readonly parts: Array<CompletedPart & { ETag: string }> = [];
  private sent = 0;
  private readonly inFlight = new Set<Promise<void>>();
  private readonly stopper = new AbortController();
  private failure: { err: unknown } | undefined;
  private creating: Promise<unknown> | undefined;
  private readonly cleanups: Array<() => Promise<void>> = [];

  constructor(
    private readonly t: PartUploadTarget,
    /** The first part, already filled (exactly partSize bytes); this upload releases it. */
    private head: BufferLease | undefined,
  ) {
    this.name = t.objectKey;
  }

  /** The object's ETag once completed, as S3 computes it from the parts' ETags (see multipartEtag); undefined when a part's ETag is no MD5. */
  predictedEtag(): string | undefined {
    const md5s = this.parts.map((p) => bareEtag(p.ETag));
    return md5s.every((m) => /^[0-9a-f]{32}$/.test(m)) ? multipartEtag(md5s.map((m) => Buffer.from(m, 'hex'))) : undefined;
  }

  async send(body: AsyncIterable<Buffer>): Promise<void> {
    const { t } = this;
    this.throwIfStopped();
    const checksums = (await t.client.config.requestChecksumCalculation()) === 'WHEN_SUPPORTED';
    const created = t.client.send(
      new CreateMultipartUploadCommand({ Bucket: t.bucket, Key: t.objectKey, ContentType: t.contentType, Metadata: t.metadata, ...(checksums ? { ChecksumAlgorithm: 'CRC32' } : {}) }),
    );
    this.creating = created;
    this.uploadId = (await created).UploadId;
    if (!this.uploadId) throw new BlobgateError('storage_error', 'The S3 store answered CreateMultipartUpload without an UploadId; see the server log.');
    this.throwIfStopped();
    const head = this.head;
    this.head = undefined;
    if (head) this.dispatch(head, t.partSize);
    let lease: BufferLease | undefined;
    let filled = 0;
    const reads = body[Symbol.asyncIterator]();
    try {
      for (;;) {
        // A failed part stops the upload: that ends this read too, however long the body keeps silent.
        const read = await nextRead(reads, this.stopper.signal, () => this.stoppedError());
        if (read.done) break;
        const chunk = read.value;
        let off = 0;
        while (off < chunk.length) {
          lease ??= await t.budget.acquire(t.partSize, this.stopper.signal);
          const n = chunk.copy(lease.buffer, filled, off);
          off += n;
          filled += n;
          if (filled === t.partSize) {
            await this.room();
            this.dispatch(lease, filled);
            lease = undefined;
            filled = 0;
          }
        }
        this.throwIfStopped();
      }
      if (lease && filled > 0) {
        await this.room();
        this.dispatch(lease, filled);
        lease = undefined;
      }
      while (this.inFlight.size > 0) await Promise.race(this.inFlight);
      this.throwIfStopped();
    } catch (err) {
      // A failed part stopped the upload: its error, not what the stop made of a wait, is what happened.
      throw this.failure ? this.failure.err : err;
    } finally {
      if (this.stopper.signal.aborted) void reads.return?.()?.catch(() => undefined);
      lease?.release();
    }
  }

  /** Completes the upload: the commit (never cancelled). Resolves with the ETag S3 answered. */
  async complete(): Promise<string | undefined> {
    const out = await this.t.client.send(
      new CompleteMultipartUploadCommand({ Bucket: this.t.bucket, Key: this.t.objectKey, UploadId: this.uploadId, MultipartUpload: { Parts: this.parts } }),
    );
    return out.ETag === undefined ? undefined : bareEtag(out.ETag);
  }

  stop(): void {
    if (!this.stopper.signal.aborted) this.stopper.abort();
    this.head?.release();
    this.head = undefined;
  }

  /** Waits for every request of the upload to come back; the cleanup aborts the upload. */
  async settle(): Promise<() => Promise<void>> {
    await this.creating?.catch(() => undefined);
    while (this.inFlight.size > 0) await Promise.allSettled([...this.inFlight]);
    const { client, bucket, objectKey } = this.t;
    const id = this.uploadId;
    const more = [...this.cleanups];
    return async () => {
      if (id) await abortUpload(client, bucket, objectKey, id);
      for (const step of more) await step();
    };
  }

  /** One more step for the cleanup after a failure (the write's sidecar, once written). */
  onCleanup(step: () => Promise<void>): void {
    this.cleanups.push(step);
  }

  /** Nothing of the upload outlives a completed object (the write's remove() step is the sidecars'). */
  remove(): Promise<void> {
    return Promise.resolve();
  }

  private dispatch(lease: BufferLease, n: number): void {
    const { t } = this;
    const partNumber = ++this.sent;
    if (partNumber > t.maxParts) {
      lease.release();
      this.fail(new BlobgateError('storage_error', `The body needs more than ${t.maxParts} parts of ${t.partSize} bytes (S3's limit); nothing was stored.`));
      return;
    }
    const data = lease.buffer.subarray(0, n);
    const p = t.client
      .send(new UploadPartCommand({ Bucket: t.bucket, Key: t.objectKey, UploadId: this.uploadId, PartNumber: partNumber, Body: data, ContentLength: n }), {
        abortSignal: this.stopper.signal,
      })
      .then((out) => {
        if (!out.ETag) throw new BlobgateError('storage_error', 'The S3 store answered UploadPart without an ETag; see the server log.');
        this.parts[partNumber - 1] = { PartNumber: partNumber, ETag: out.ETag, ...(out.ChecksumCRC32 ? { ChecksumCRC32: out.ChecksumCRC32 } : {}) };
      })
      .catch((err: unknown) => this.fail(err))
      .finally(() => {
        lease.release(); // the request settled: nothing reads the buffer any more
        this.inFlight.delete(p);
      });
    this.inFlight.add(p);
  }

  /** Waits until fewer than queueSize parts are in flight. */
  private async room(): Promise<void> {
    while (this.inFlight.size >= this.t.queueSize) await Promise.race(this.inFlight);
    this.throwIfStopped();
  }

  /** A part failed: the first failure is what send() rejects with; everything else stops. */
  private fail(err: unknown): void {
    this.failure ??= { err };
    this.stop();
  }

  private throwIfStopped(): void {
    if (this.stopper.signal.aborted) throw this.stoppedError();
  }

  /** What a stopped upload rejects with: the failed part's error, else the stop. */
  private stoppedError(): unknown {
    return this.failure ? this.failure.err : new BlobgateError('aborted', 'The upload was stopped; nothing was stored.');
  }
}
