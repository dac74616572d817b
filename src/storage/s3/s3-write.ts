import { HeadObjectCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import type { BufferBudget, BufferLease } from '../buffer-budget.js';
import type { StoredObject, WriteRequest } from '../driver.js';
import type { Janitor } from '../janitor.js';
import { encodeMeta } from '../meta-codec.js';
import { type Head, type StagedWriteBackend, writeStaged } from '../staged-write.js';
import { DIGEST_MARKER, DIGEST_SIDECAR, type S3Digests } from './s3-digests.js';
import { MAX_PART_SIZE, MIN_PART_SIZE } from './s3-config.js';
import { S3PartUpload } from './s3-parts.js';

/**
 * The S3 write path: all or nothing, no full-object copy, and a reader never
 * sees a new object described by a wrong sha256
 * (docs/storage-contract.md#s3-multipart-to-the-final-key).
 *
 * The problem: the sha256 is known only after the last byte, while a
 * multipart upload's user metadata is fixed at CreateMultipartUpload.
 *
 * The design (the sequence is the shared staged-write protocol,
 * staged-write.ts, with the multipart upload as the "stage" and
 * CompleteMultipartUpload as the publish; this file is its S3 adapter):
 * - The head of the body is read into one part buffer from the process's
 *   buffer budget (buffer-budget.ts) — after the first HEAD_FREE_BYTES,
 *   so small bodies never wait for the budget. A body of at most one part
 *   goes up in one PutObject that carries the final metadata: atomic.
 * - A larger body goes up by blobgate's own multipart loop (s3-parts.ts)
 *   straight to the final key. CreateMultipartUpload carries every field
 *   known at the start (content type, tier, created-at, expiry, storage,
 *   search index) and the marker `bg-digest: sidecar`; the sha256 goes into
 *   a sidecar record named by the object's ETag (s3-digests.ts), which is
 *   known before Complete (from the parts' ETags, their MD5s). The sidecar is written
 *   BEFORE CompleteMultipartUpload, which is atomic: if Complete fails, the
 *   sidecar names an ETag no object has (harmless, and deleted by the
 *   cleanup); if it succeeds, the object is described right from its first
 *   instant. Where the ETag cannot be predicted (the parts' ETags are not
 *   their MD5s: SSE-KMS, SSE-C, some S3-compatible stores) or Complete
 *   answers another one, the sidecar is written after Complete, and for
 *   that moment the object's sha256 reads as unknown (''), never wrong.
 * - After the commit, the sidecars of the versions it replaced are deleted
 *   (one listing of the key's sidecars; the janitor retries it).
 *
 * Alternatives weighed, and why not:
 * - Stage at a hidden key, then CopyObject with the complete metadata (the
 *   previous design): atomic, but a second pass over every byte on the
 *   largest objects (the measured gap to rclone, and a second request
 *   charge), and limited to 5 GiB.
 * - Metadata fixed up after Complete (a CopyObject onto itself): the same
 *   copy, and the object is visible without its sha256 meanwhile.
 * - Object tags: not metadata, one more request per read, and also set
 *   after the object is visible.
 * - S3's own SHA256 checksum: for a multipart object it is composite
 *   (a hash of the parts' hashes), not the sha256 of the bytes.
 * - A sidecar keyed by the key alone: an overwrite would replace the live
 *   object's sha256 before the new object is live, or after it.
 *
 * The signal is honoured until the commit request (that PutObject or the
 * Complete) is sent; the commit itself is not cancelled, because a request
 * cancelled in flight may still take effect on S3, and the write would then
 * report failure with the new object visible. If a commit request fails, a
 * HeadObject (and the sidecar) decides whether it took effect anyway.
 *
 * On any failure the body is destroyed, the parts in flight are cancelled,
 * the multipart upload is aborted and the sidecar deleted (unless an object
 * with its ETag is live), and the write rejects per write-errors.ts
 * precedence. That cleanup is the store's janitor's (janitor.ts): when the
 * store is unreachable it is retried until done. A crash mid-write can
 * leave a multipart upload at the final key (and its sidecar): the
 * janitor's sweep (s3-sweep.ts) aborts blobgate's uploads older than the
 * grace period and deletes the key's stale sidecars, and a bucket lifecycle
 * rule is the last line (abort incomplete multipart uploads after 1 day).
 * A CreateMultipartUpload whose answer was lost and retried by the SDK
 * leaves an empty upload (no parts, no bytes) that this write cannot tell
 * from a concurrent writer's at the same key; the sweep reclaims it.
 */

// S3's part size limits live with the store's config (s3-config.ts loads no SDK), and are exported from here too.
export { MAX_PART_SIZE, MIN_PART_SIZE };
/** S3's maximum number of parts in one multipart upload. */
export const MAX_PARTS = 10_000;
/**
 * Default part size. Memory per multipart transfer: at most queueSize parts
 * being sent plus the one being filled, partSize × (queueSize + 1) (40 MiB
 * with the defaults), all from the shared buffer budget and reused. A body
 * of at most one part is held once (≤ partSize).
 */
export const DEFAULT_PART_SIZE = 8 * 1024 * 1024;
/** Default number of parts uploaded concurrently per transfer (see DEFAULT_PART_SIZE for memory). */
export const DEFAULT_QUEUE_SIZE = 4;
/** Bytes read in ordinary chunks before a part buffer is taken from the budget: small bodies never wait for it. */
export const HEAD_FREE_BYTES = 256 * 1024;

export interface S3WriteTarget {
  client: S3Client;
  bucket: string;
  /** The physical key (store prefix applied). */
  objectKey: string;
  partSize: number;
  queueSize: number;
  /** Owns the cleanup of a failed upload and of replaced sidecars. */
  janitor: Janitor;
  /** Where part buffers come from (shared by every transfer of the process). */
  budget: BufferBudget;
  digests: S3Digests;
}

/**
 * The part size for one write: the configured size, raised so that the
 * largest body this write may carry (the announced size, else the cap) fits
 * in MAX_PARTS parts. `expectedSize` is a hint; a body that outgrows it past
 * MAX_PARTS parts fails cleanly.
 */
export function effectivePartSize(partSize: number, maxBytes: number, expectedSize?: number): number {
  const upper = Math.min(maxBytes, expectedSize ?? maxBytes);
  return Math.min(MAX_PART_SIZE, Math.max(MIN_PART_SIZE, partSize, Math.ceil(upper / MAX_PARTS)));
}

export async function writeS3Object(t: S3WriteTarget, req: WriteRequest): Promise<StoredObject> {
  const write = new S3Write(t, req, effectivePartSize(t.partSize, req.maxBytes, req.expectedSize));
  try {
    return await writeStaged(write.backend(), req);
  } finally {
    write.releaseHead();
  }
}

/** One write's side of the protocol: its head buffer and its multipart upload, once there is one. */
class S3Write {
  private head: BufferLease | undefined;
  private upload: S3PartUpload | undefined;
  private readonly startedAt = new Date();

  constructor(
    private readonly t: S3WriteTarget,
    private readonly req: WriteRequest,
    private readonly partSize: number,
  ) {}

  backend(): StagedWriteBackend {
    const { t, req } = this;
    return {
      unit: this.partSize,
      uploadKind: 'multipart upload',
      options: { trustExpectedSize: false, raceStop: false },
      janitor: t.janitor,
      readHead: (bytes) => this.readHead(bytes),
      live: () => this.live(),
      /** A body of at most one part: one PutObject with the final metadata. */
      async putWhole(chunks, meta, commit) {
        const body = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks);
        const put = new PutObjectCommand({ Bucket: t.bucket, Key: t.objectKey, Body: body, ContentLength: body.length, ContentType: meta.contentType, Metadata: encodeMeta(meta) });
        await commit(() => t.client.send(put));
      },
      stage: () => {
        const head = this.head;
        this.head = undefined;
        this.upload = new S3PartUpload(
          {
            client: t.client,
            bucket: t.bucket,
            objectKey: t.objectKey,
            contentType: req.meta.contentType,
            metadata: { ...encodeMeta(req.meta), [DIGEST_MARKER]: DIGEST_SIDECAR },
            partSize: this.partSize,
            queueSize: t.queueSize,
            budget: t.budget,
            maxParts: MAX_PARTS,
          },
          head,
        );
        return this.upload;
      },
      publish: (meta, commit) => this.publish(meta.sha256, meta.size, commit),
    };
  }

  releaseHead(): void {
    this.head?.release();
    this.head = undefined;
  }

  /**
   * Reads the first HEAD_FREE_BYTES in the body's own chunks, then fills one
   * part buffer from the budget. Resolves with what the protocol still hands
   * on: the whole body (ended), or the bytes past the part buffer, which
   * stays with this write as part 1.
   */
  private async readHead(bytes: AsyncIterator<Buffer>): Promise<Head> {
    const chunks: Buffer[] = [];
    let length = 0;
    while (length < HEAD_FREE_BYTES) {
      const r = await bytes.next();
      if (r.done) return { chunks, ended: true };
      chunks.push(r.value);
      length += r.value.length;
    }
    this.head = await this.t.budget.acquire(this.partSize, this.req.signal, true);
    const buffer = this.head.buffer;
    let filled = 0;
    let rest: Buffer | undefined;
    const put = (chunk: Buffer): void => {
      const n = chunk.copy(buffer, filled);
      filled += n;
      if (n < chunk.length) rest = chunk.subarray(n);
    };
    for (const c of chunks.splice(0)) put(c);
    while (filled < this.partSize) {
      const r = await bytes.next();
      if (r.done) return { chunks: [buffer.subarray(0, filled)], ended: true };
      put(r.value);
    }
    if (rest === undefined) {
      const r = await bytes.next();
      if (r.done) return { chunks: [buffer], ended: true };
      rest = r.value;
    }
    return { chunks: [rest], ended: false };
  }

  private async live(): Promise<{ size: number | undefined; metadata: Record<string, unknown> | undefined }> {
    const { t, req } = this;
    const head = await t.client.send(new HeadObjectCommand({ Bucket: t.bucket, Key: t.objectKey }));
    const metadata: Record<string, unknown> = { ...head.Metadata };
    if (metadata[DIGEST_MARKER] === DIGEST_SIDECAR && head.ContentLength !== undefined) {
      const sha256 = await t.digests.lookup(req.key, head.ETag, head.ContentLength);
      if (sha256) metadata['bg-sha256'] = sha256;
    }
    return { size: head.ContentLength, metadata };
  }

  /** Sidecar, then CompleteMultipartUpload (the commit), then the replaced versions' sidecars. */
  private async publish(sha256: string, size: number, commit: (send: () => Promise<unknown>) => Promise<void>): Promise<void> {
    const { t, req } = this;
    const upload = this.upload;
    if (!upload) throw new Error('publish before stage');
    const predicted = upload.predictedEtag();
    if (predicted !== undefined) {
      await t.digests.record(req.key, predicted, sha256, size);
      // From here a failure must also remove the sidecar, unless its object went live.
      upload.onCleanup(() => t.digests.discardUnlessLive(req.key, t.objectKey, predicted));
    }
    let answered: string | undefined;
    await commit(async () => {
      answered = await upload.complete();
    });
    const etag = answered ?? (await t.digests.liveEtag(t.objectKey).catch(() => undefined));
    if (etag !== undefined && etag !== predicted) {
      // Not the predicted ETag: the sidecar is written now (until then the sha256 reads as unknown, never wrong).
      await t.janitor.discard(`digest sidecar of ${t.objectKey}`, () => t.digests.record(req.key, etag, sha256, size));
      if (predicted !== undefined) await t.janitor.discard(`digest sidecar of ${t.objectKey}`, () => t.digests.discardUnlessLive(req.key, t.objectKey, predicted));
    }
    const before = this.startedAt;
    await t.janitor.discard(`replaced digest sidecars of ${t.objectKey}`, async () => void (await t.digests.removeStale(req.key, etag ?? predicted, before)));
  }
}
