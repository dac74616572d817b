import { feed, readHead } from '../stream-head.js';
import { CopyObjectCommand, HeadObjectCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { BlobgateError } from '../../errors.js';
import type { ObjectMeta, StoredObject, WriteRequest } from '../driver.js';
import { encodeMeta } from '../meta-codec.js';
import type { Janitor } from '../janitor.js';
import { ByteMeter } from '../meter.js';
import { abortError, commitOrConfirm as commit, watchBody, writeFailure } from '../write-errors.js';
import { discardStaging, encodeKeyPath, removeStagingObject } from './staging.js';
import { type TransferClient, trackTransfer } from './transfer-client.js';

/**
 * The S3 write path: all or nothing, with the complete meta (incl. sha256) on
 * the object the moment it appears.
 *
 * The problem: S3 user metadata must carry the sha256, which is known only
 * after the last byte, while a multipart upload's metadata is fixed at
 * CreateMultipartUpload.
 *
 * The design:
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

/** S3's minimum part size (all parts but the last). */
export const MIN_PART_SIZE = 5 * 1024 * 1024;
/** S3's maximum part size. */
export const MAX_PART_SIZE = 5 * 1024 * 1024 * 1024;
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
  if (req.signal.aborted) {
    req.body.destroy();
    throw abortError(req.signal);
  }
  const partSize = effectivePartSize(t.partSize, req.maxBytes, req.expectedSize);
  const meter = new ByteMeter(req.maxBytes);
  const watched = watchBody(req.body, meter);
  let meterError: unknown;
  const onMeterError = (err: unknown): void => {
    meterError ??= err;
  };
  meter.on('error', onMeterError);
  const piped = pipeline(req.body, meter, { signal: req.signal });
  piped.catch(() => undefined); // its error reaches us through the meter and watchBody
  const bytes = meter[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
  let staged: StagedUpload | undefined;
  try {
    const head = await readHead(bytes, partSize);
    if (head.ended) {
      await piped;
      return await putWhole(t, req, Buffer.concat(head.chunks), meter.sha256);
    }
    staged = new StagedUpload(t, req, partSize, Readable.from(feed(head.chunks, bytes), { objectMode: false }), meter);
    await staged.done();
    await piped;
    if (req.signal.aborted) throw abortError(req.signal);
    return await publishStaged(t, req, meter);
  } catch (err) {
    // Classify before destroying anything ourselves: a destroy would make the streams emit errors of their own.
    const failure = writeFailure(meterError ?? err, { signal: req.signal, bodyError: watched.error, what: `writing ${req.key}` });
    staged?.stop();
    meter.destroy();
    if (!req.body.destroyed) req.body.destroy();
    await staged?.discard();
    throw failure;
  } finally {
    staged?.dispose();
    meter.off('error', onMeterError);
    watched.dispose();
  }
}

function finalMeta(req: WriteRequest, size: number, sha256: string): ObjectMeta {
  return { ...req.meta, size, sha256 };
}

/** A body of at most one part: one PutObject with the final metadata. */
async function putWhole(t: S3WriteTarget, req: WriteRequest, body: Buffer, sha256: string): Promise<StoredObject> {
  if (req.signal.aborted) throw abortError(req.signal);
  const meta = finalMeta(req, body.length, sha256);
  const put = new PutObjectCommand({
    Bucket: t.bucket,
    Key: t.objectKey,
    Body: body,
    ContentLength: body.length,
    ContentType: meta.contentType,
    Metadata: encodeMeta(meta),
  });
  await commit(() => t.client.send(put), () => isCommitted(t, meta));
  return { key: req.key, meta };
}

/** Publishes the completed staging object at the final key with the complete metadata. */
async function publishStaged(t: S3WriteTarget, req: WriteRequest, meter: ByteMeter): Promise<StoredObject> {
  if (meter.bytes > MAX_COPY_BYTES) {
    throw new BlobgateError('storage_error', `Objects over ${MAX_COPY_BYTES} bytes cannot be published by the S3 driver (CopyObject limit); nothing was stored.`);
  }
  const meta = finalMeta(req, meter.bytes, meter.sha256);
  const copy = new CopyObjectCommand({
    Bucket: t.bucket,
    Key: t.objectKey,
    CopySource: `${t.bucket}/${encodeKeyPath(t.stagingKey)}`,
    MetadataDirective: 'REPLACE',
    ContentType: meta.contentType,
    Metadata: encodeMeta(meta),
  });
  await commit(() => t.client.send(copy), () => isCommitted(t, meta));
  // Committed: the write succeeded even if this delete fails; the janitor retries it.
  await t.janitor.discard(`staging object ${t.stagingKey}`, () => removeStagingObject(t.client, t.bucket, t.stagingKey));
  return { key: req.key, meta };
}

async function isCommitted(t: S3WriteTarget, meta: ObjectMeta): Promise<boolean> {
  const head = await t.client.send(new HeadObjectCommand({ Bucket: t.bucket, Key: t.objectKey }));
  const expected = encodeMeta(meta);
  return head.ContentLength === meta.size && Object.entries(expected).every(([k, v]) => head.Metadata?.[k] === v);
}

/**
 * One lib-storage multipart upload of the body to the staging key. Stops at
 * once (parts in flight cancelled, no new parts) when the signal fires or the
 * meter fails, rather than after the parts in flight.
 */
class StagedUpload {
  private readonly transfer: TransferClient;
  private readonly upload: Upload;
  private readonly onStop = (): void => this.stop();

  constructor(
    private readonly t: S3WriteTarget,
    private readonly req: WriteRequest,
    partSize: number,
    private readonly body: Readable,
    private readonly meter: ByteMeter,
  ) {
    this.transfer = trackTransfer(t.client);
    this.upload = new Upload({
      client: this.transfer.client,
      // No ContentLength: the size is counted, never announced, so lib-storage's
      // expected-part-count check (the one that once skipped the abort, #8299) does not apply.
      params: { Bucket: t.bucket, Key: t.stagingKey, Body: body, ContentType: req.meta.contentType },
      partSize,
      queueSize: t.queueSize,
      leavePartsOnError: false,
    });
    req.signal.addEventListener('abort', this.onStop, { once: true });
    meter.once('error', this.onStop);
  }

  async done(): Promise<void> {
    await this.upload.done();
  }

  stop(): void {
    this.transfer.cancel();
    void this.upload.abort();
    this.body.destroy();
  }

  /** After a failure: waits for lib-storage's requests to come back, then has the janitor remove whatever the upload left. */
  async discard(): Promise<void> {
    await this.transfer.settled();
    const { client, bucket, stagingKey } = this.t;
    const ids = new Set(this.transfer.uploadIds);
    await this.t.janitor.discard(`multipart upload to ${stagingKey}`, () => discardStaging(client, bucket, stagingKey, ids));
  }

  dispose(): void {
    this.req.signal.removeEventListener('abort', this.onStop);
    this.meter.off('error', this.onStop);
  }
}
