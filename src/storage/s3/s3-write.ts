import { CopyObjectCommand, HeadObjectCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { BlobgateError } from '../../errors.js';
import type { StoredObject, WriteRequest } from '../driver.js';
import type { Janitor } from '../janitor.js';
import { encodeMeta } from '../meta-codec.js';
import { type StagedWriteBackend, writeStaged } from '../staged-write.js';
import { MAX_PART_SIZE, MIN_PART_SIZE } from './s3-config.js';
import { S3StagedUpload, encodeKeyPath } from './staging.js';

/**
 * The S3 write path: all or nothing, with the complete meta (incl. sha256) on
 * the object the moment it appears.
 *
 * The problem: S3 user metadata must carry the sha256, which is known only
 * after the last byte, while a multipart upload's metadata is fixed at
 * CreateMultipartUpload.
 *
 * The design (the sequence is the shared staged-write protocol,
 * staged-write.ts; this file is its S3 adapter):
 * - Read the body (through the ByteMeter) until more than one part has
 *   arrived or it ends. A body of at most one part goes up in one PutObject
 *   that carries the final metadata: atomic, no copy. This is the common case
 *   (retained blobs are mostly small) and it never reaches lib-storage's
 *   single-part path, whose PutObject ignores abort (aws-sdk-js-v3 #5109).
 * - A larger body goes through lib-storage `Upload` (multipart) to a hidden
 *   staging key `<prefix>.blobgate-staging/<uuid>` (outside every
 *   `workspaces/` listing), then one CopyObject with MetadataDirective
 *   REPLACE publishes it at the final key with the complete metadata and
 *   content type, then the staging object is deleted. CopyObject is atomic,
 *   so readers see the old object or the new one with all its meta, never a
 *   half. Its limit is 5 GiB per object (blobgate's largest cap is 4 GiB);
 *   beyond it UploadPartCopy would be needed, and a bigger body fails here.
 *   The cost is a server-side copy of large objects, paid once per write.
 *   Rejected alternatives: metadata fixed up after CompleteMultipartUpload
 *   (the object is visible without sha256 meanwhile), tags (not metadata,
 *   also set after the object is visible), S3's own SHA256 checksum (only
 *   composite for multipart uploads, not the object's sha256).
 *
 * The signal is honoured until the commit request (that PutObject or
 * CopyObject) is sent; the commit itself is not cancelled, because a request
 * cancelled in flight may still take effect on S3, and the write would then
 * report failure with the new object visible. If a commit request fails, a
 * HeadObject decides whether it took effect anyway.
 *
 * On any failure the body is destroyed, the multipart upload is aborted (by
 * lib-storage and again by us, see transfer-client.ts), the staging object is
 * deleted, and the write rejects per write-errors.ts precedence. That cleanup
 * is the store's janitor's (janitor.ts): when the store is unreachable it is
 * retried until done. A crash of the process mid-write can still leave a
 * multipart upload or a staging object: the janitor's sweep (s3-sweep.ts)
 * removes them once older than the grace period, and a bucket lifecycle rule
 * is the last line (abort incomplete multipart uploads, expire
 * `.blobgate-staging/`, after 1 day).
 */

// S3's part size limits live with the store's config (s3-config.ts loads no SDK), and are exported from here too.
export { MAX_PART_SIZE, MIN_PART_SIZE };
/** S3's maximum number of parts in one multipart upload. */
export const MAX_PARTS = 10_000;
/**
 * Default part size. Memory per multipart transfer: lib-storage holds up to
 * queueSize parts (each being sent, or the last one sent while its uploader
 * waits for the next), plus the part being assembled and, briefly, its
 * Buffer.concat copy. The nominal bound partSize × (queueSize + 1) (40 MiB
 * with the defaults) undercounts; plan for about partSize × (queueSize + 3)
 * up to queueSize 4, and measure beyond. Measured live ArrayBuffer peaks
 * (gc every 10 ms, 400 MiB body, loopback): 8 MiB parts: 25 / 41 / 57 MiB at
 * queueSize 1 / 2 / 4; 5 MiB parts at queueSize 8: 72 MiB (≈ 14 parts).
 * A body of at most one part is held once (≤ partSize).
 */
export const DEFAULT_PART_SIZE = 8 * 1024 * 1024;
/** Default number of parts uploaded concurrently per transfer (see DEFAULT_PART_SIZE for memory). */
export const DEFAULT_QUEUE_SIZE = 4;
/** Largest object one CopyObject can copy (S3 API limit). */
export const MAX_COPY_BYTES = 5 * 1024 * 1024 * 1024;

export interface S3WriteTarget {
  client: S3Client;
  bucket: string;
  /** The physical key (store prefix applied). */
  objectKey: string;
  /** A fresh physical staging key for this write. */
  stagingKey: string;
  partSize: number;
  queueSize: number;
  /** Owns the cleanup of a failed upload and of the staging object after a publish. */
  janitor: Janitor;
}

/**
 * The part size for one write: the configured size, raised so that the
 * largest body this write may carry (the announced size, else the cap) fits
 * in MAX_PARTS parts. `expectedSize` is a hint; a body that outgrows it past
 * MAX_PARTS parts fails cleanly in lib-storage.
 */
export function effectivePartSize(partSize: number, maxBytes: number, expectedSize?: number): number {
  const upper = Math.min(maxBytes, expectedSize ?? maxBytes);
  return Math.min(MAX_PART_SIZE, Math.max(MIN_PART_SIZE, partSize, Math.ceil(upper / MAX_PARTS)));
}

export async function writeS3Object(t: S3WriteTarget, req: WriteRequest): Promise<StoredObject> {
  return writeStaged(s3Backend(t, req, effectivePartSize(t.partSize, req.maxBytes, req.expectedSize)), req);
}

/** The S3 side of the staged-write protocol (staged-write.ts). */
function s3Backend(t: S3WriteTarget, req: WriteRequest, partSize: number): StagedWriteBackend {
  return {
    unit: partSize,
    uploadKind: 'multipart upload',
    // The head is always read: a body of one part must not reach lib-storage's single-part PutObject (#5109).
    options: { trustExpectedSize: false, raceStop: false },
    janitor: t.janitor,
    async live() {
      const head = await t.client.send(new HeadObjectCommand({ Bucket: t.bucket, Key: t.objectKey }));
      return { size: head.ContentLength, metadata: head.Metadata };
    },
    /** A body of at most one part: one PutObject with the final metadata. */
    async putWhole(chunks, meta, commit) {
      const body = Buffer.concat(chunks);
      const put = new PutObjectCommand({
        Bucket: t.bucket,
        Key: t.objectKey,
        Body: body,
        ContentLength: body.length,
        ContentType: meta.contentType,
        Metadata: encodeMeta(meta),
      });
      await commit(() => t.client.send(put));
    },
    stage: () => new S3StagedUpload(t.client, t.bucket, t.stagingKey, req.meta.contentType, partSize, t.queueSize),
    /** Publishes the completed staging object at the final key with the complete metadata. */
    async publish(meta, commit) {
      if (meta.size > MAX_COPY_BYTES) {
        throw new BlobgateError('storage_error', `Objects over ${MAX_COPY_BYTES} bytes cannot be published by the S3 driver (CopyObject limit); nothing was stored.`);
      }
      const copy = new CopyObjectCommand({
        Bucket: t.bucket,
        Key: t.objectKey,
        CopySource: `${t.bucket}/${encodeKeyPath(t.stagingKey)}`,
        MetadataDirective: 'REPLACE',
        ContentType: meta.contentType,
        Metadata: encodeMeta(meta),
      });
      await commit(() => t.client.send(copy));
    },
  };
}
