import type { Bucket, File, FileMetadata, Storage } from '@google-cloud/storage';
import type { ObjectMeta, StoredObject, WriteRequest } from '../driver.js';
import type { Janitor } from '../janitor.js';
import { encodeMeta } from '../meta-codec.js';
import { type Commit, type StagedWriteBackend, writeStaged } from '../staged-write.js';
import { gcsStatus, isBucketMissing } from './gcs-errors.js';
import { MAX_COMPONENT_COUNT } from './gcs-compose.js';
import { GcsPartsUpload } from './gcs-parts.js';
import { GcsStagedUpload, type SessionPlane } from './gcs-staging.js';

/**
 * The GCS write path: all or nothing, with the complete meta (incl. sha256)
 * on the object the moment it appears.
 *
 * The problem: the sha256 is known only after the last byte, while a GCS
 * object's custom metadata is fixed when its upload starts (the resumable
 * session's initiation request, or the JSON part of a multipart upload).
 *
 * The design (the sequence is the shared staged-write protocol,
 * staged-write.ts; this file is its GCS adapter):
 * - Read the body (through the ByteMeter) until more than one chunk has
 *   arrived or it ends. A body of at most one chunk is uploaded to the final
 *   name in one request (`resumable: false`, a multipart upload) that carries
 *   the final metadata: atomic, no session, no copy. This is the common case
 *   (retained blobs are mostly small). When the source announces more than
 *   one chunk (`expectedSize`), the head is not read first.
 * - A larger body is, by default, a parallel composite upload (gcs-parts.ts):
 *   parts of one chunk uploaded `parallelParts` at a time under the staging
 *   name, published by one compose that carries the complete metadata
 *   (gcs-compose.ts; why compose and not the XML multipart API or the
 *   resumable session below: gcs-parts.ts). The rest of this comment is the
 *   resumable path, `parallelParts: 1`.
 * - With `parallelParts: 1`, a larger body goes through a resumable session, in `chunkSize` requests,
 *   to a hidden staging name `<prefix>.blobgate-staging/<uuid>` (outside
 *   every `workspaces/` listing, gcs-staging.ts). Once GCS finalized it, one
 *   rewrite (`File.copy`) publishes it at the final name with the complete
 *   metadata, and the staging object is deleted. The rewrite creates the new
 *   generation atomically: readers see the old object or the new one with all
 *   its meta, never a half and never one without sha256. Within one bucket
 *   (same location and storage class) GCS rewrites without copying bytes, so
 *   the cost is one extra request per large write.
 *   Rejected: uploading to the final name and PATCHing `bg-sha256` in
 *   afterwards (the object is visible without its sha256 meanwhile, and a
 *   failed PATCH leaves it so); holding the last chunk back until the hash is
 *   known (the session's metadata is fixed at initiation all the same).
 *
 * The signal is honoured until the commit request (that single upload or the
 * rewrite) is sent; the commit itself is not cancelled, because a request
 * cancelled in flight may still take effect, and the write would then report
 * failure with the new object visible. If a commit request fails, a metadata
 * GET decides whether it took effect anyway.
 *
 * On any failure (cap, source error, abort, GCS error) the chunk request in
 * flight is aborted (gcs-session-upload.ts), the body is destroyed, the resumable session is cancelled
 * and the staging object and session record deleted (gcs-staging.ts, every
 * wait bounded in time against googleapis/nodejs-storage#2367), and the
 * write rejects per write-errors.ts precedence. That cleanup is the store's
 * janitor's (janitor.ts): when GCS is unreachable it is retried until done.
 * Waiting for the upload is raced against the signal and the meter's
 * failure (the protocol's `raceStop`), so a client stream that never settles
 * on a source error (#2367) cannot hold the write. A crash of the process mid-write can still leave a
 * session (it never becomes an object) or a staging object: the janitor's
 * sweep (gcs-sweep.ts) finds both through the staging prefix and the session
 * record once older than the grace period; a lifecycle rule deleting
 * `.blobgate-staging/` objects after 1 day is the last line.
 */

/** GCS wants every chunk but the last to be a multiple of 256 KiB. */
export const CHUNK_ALIGN = 256 * 1024;
/**
 * Default chunk size. Memory per transfer is bounded by the chunk size, not
 * the body. A parallel composite upload holds at most (parallelParts + 1)
 * parts of one chunk (gcs-parts.ts). On the resumable path: a body of at
 * most one chunk is held once (its chunks are streamed to GCS without a
 * concatenated copy); a larger one holds two chunk buffers, the one in
 * flight and the one being filled, from the process's buffer budget
 * (gcs-session-upload.ts): 16 MiB at the default.
 */
export const DEFAULT_CHUNK_SIZE = 8 * 1024 * 1024;

export interface GcsWriteTarget {
  storage: Storage;
  bucket: Bucket;
  /** The physical name (store prefix applied). */
  objectName: string;
  /** A fresh physical staging name for this write. */
  stagingName: string;
  chunkSize: number;
  /** Parts in flight of a parallel composite upload (gcs-parts.ts); 1: one resumable upload, published by a rewrite. */
  parallelParts: number;
  /** Owns the cleanup of a failed upload and of the staging object after a publish. */
  janitor: Janitor;
  /** What the resumable path sends its chunks with (gcs-session-upload.ts). */
  sessions: SessionPlane;
}

export async function writeGcsObject(t: GcsWriteTarget, req: WriteRequest): Promise<StoredObject> {
  return writeStaged(gcsBackend(t, req), req);
}

/** The GCS side of the staged-write protocol (staged-write.ts). */
function gcsBackend(t: GcsWriteTarget, req: WriteRequest): StagedWriteBackend {
  const file = t.bucket.file(t.objectName);
  const partSize = t.parallelParts > 1 ? composablePartSize(t.chunkSize, req.maxBytes) : undefined;
  if (partSize !== undefined) return partsBackend(t, req, file, partSize);
  const staging = t.bucket.file(t.stagingName);
  return {
    unit: t.chunkSize,
    uploadKind: 'resumable upload',
    // An announced large body opens its session without reading a chunk first;
    // every wait on the client is raced against the stop trigger (#2367).
    options: { trustExpectedSize: true, raceStop: true },
    janitor: t.janitor,
    async live() {
      const [md] = await file.getMetadata();
      return { size: Number(md.size), metadata: md.metadata ?? undefined };
    },
    putWhole: (chunks, meta, commit) => putWhole(file, chunks, meta, commit),
    stage: () => new GcsStagedUpload(t.storage, staging, objectMetadata(req.meta.contentType, encodeMeta(req.meta)), t.sessions),
    /** Publishes the finalized staging object at the final name with the complete metadata. */
    async publish(meta, commit) {
      // The client retries the rewrite (GCS_RETRY_OPTIONS in client.ts): sent twice it publishes the same bytes and meta.
      await commit(() => staging.copy(file, { contentType: meta.contentType, metadata: encodeMeta(meta) }));
    },
  };
}

/**
 * The GCS side of the staged-write protocol with a parallel composite upload
 * (gcs-parts.ts): the same single request for a body of at most one chunk,
 * parts in parallel and a publishing compose for a larger one.
 */
function partsBackend(t: GcsWriteTarget, req: WriteRequest, file: File, partSize: number): StagedWriteBackend {
  let parts: GcsPartsUpload | undefined;
  return {
    unit: t.chunkSize,
    uploadKind: 'parallel composite upload',
    // Nothing is opened before the body is sent; every wait is raced against the stop trigger (#2367).
    options: { trustExpectedSize: true, raceStop: true },
    janitor: t.janitor,
    live: () => liveObject(file),
    putWhole: (chunks, meta, commit) => putWhole(file, chunks, meta, commit),
    stage: () => (parts = new GcsPartsUpload(t.bucket, t.stagingName, partSize, t.parallelParts, t.sessions.budget)),
    async publish(meta, commit) {
      if (!parts) throw new Error('publish before stage');
      await parts.publish(file, meta, commit);
    },
  };
}

/**
 * The part size of a parallel composite upload: the chunk size, raised (to a
 * multiple of 256 KiB) so that a body of `maxBytes` takes at most
 * MAX_COMPONENT_COUNT parts, GCS's limit for one composite object (with the
 * 4 GiB ephemeral cap: 4 MiB, below the 8 MiB default). Undefined — use the
 * resumable upload — when that would exceed MAX_GROWN_PART_SIZE: memory per
 * transfer grows with the part size.
 */
export function composablePartSize(chunkSize: number, maxBytes: number): number | undefined {
  const needed = Math.ceil(Math.ceil(maxBytes / MAX_COMPONENT_COUNT) / CHUNK_ALIGN) * CHUNK_ALIGN;
  const size = Math.max(chunkSize, needed);
  return size === chunkSize || size <= MAX_GROWN_PART_SIZE ? size : undefined;
}

/** The largest part a parallel composite upload grows its chunk size to (see composablePartSize). */
export const MAX_GROWN_PART_SIZE = 64 * 1024 * 1024;

/**
 * Default parts in flight, and the most config accepts. The default is 1, the
 * resumable path: in the benchmark against the project's GCS server on two
 * cores, 4 parts were slower than one resumable upload (1 GiB: 0.62x rclone
 * against 0.78x before) and held more memory (32 concurrent 64 MiB persists:
 * 824 MiB peak RSS against 627 MiB, before parts drew on limits.buffer-bytes).
 * Parts pay where a chunk's round trip to the store,
 * not CPU, bounds the upload (real GCS); an operator opts in with
 * `parallel-parts: 4` (README "GCS").
 */
export const DEFAULT_PARALLEL_PARTS = 1;
export const MAX_PARALLEL_PARTS = 32;

async function liveObject(file: File): Promise<{ size: number; metadata: Record<string, unknown> | undefined }> {
  const [md] = await file.getMetadata();
  return { size: Number(md.size), metadata: md.metadata ?? undefined };
}

function objectMetadata(contentType: string, custom: Record<string, string>): FileMetadata {
  return { contentType, metadata: custom };
}

/**
 * A body of at most one chunk: one request to the final name with the final
 * metadata, through `File.save` so that the client's retry machinery applies
 * (a write stream with `resumable: false` is never retried: nodejs-common
 * util.js `makeWritableStream` sends it with `maxRetries: 0`; `save` retries
 * a source it can read again, file.js "Only PipelineSourceFunction can be
 * retried"). The chunks are held until the request succeeded, which costs no
 * more than reading them did.
 *
 * The request is made idempotent by `ifGenerationMatch` on the generation it
 * replaces: 0 first (most keys are new: the default layout has a uuid), and
 * on a 412 the live generation, read then. So a retry after a lost answer
 * cannot publish twice (it gets a 412, and the metadata check confirms the
 * first), and a concurrent writer's 412 just means: replace that one instead.
 */
async function putWhole(file: File, chunks: Buffer[], meta: ObjectMeta, commit: Commit): Promise<void> {
  const metadata = objectMetadata(meta.contentType, encodeMeta(meta));
  let expected: number | string = 0;
  for (let attempt = 1; ; attempt++) {
    const ifGenerationMatch = expected;
    const send = (): Promise<unknown> =>
      file.save(() => chunks.values(), { resumable: false, validation: 'crc32c', metadata, preconditionOpts: { ifGenerationMatch } });
    try {
      await commit(send);
      return;
    } catch (err) {
      if (gcsStatus(err) !== 412 || attempt >= REPLACE_ATTEMPTS) throw err;
      expected = await liveGeneration(file);
    }
  }
}

/** How often a single-request write re-reads the live generation after a 412 (concurrent writers of one key). */
const REPLACE_ATTEMPTS = 10;

/** The generation of the live object at the name, 0 when there is none. */
async function liveGeneration(file: File): Promise<number | string> {
  try {
    const [md] = await file.getMetadata();
    return md.generation ?? 0;
  } catch (err) {
    if (gcsStatus(err) === 404 && !isBucketMissing(err)) return 0;
    throw err;
  }
}
