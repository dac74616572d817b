import { AbortMultipartUploadCommand, DeleteObjectCommand, ListMultipartUploadsCommand, type S3Client } from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import type { Readable } from 'node:stream';
import type { StagedUpload } from '../staged-write.js';
import { errorName } from './s3-errors.js';
import { type TransferClient, trackTransfer } from './transfer-client.js';

/** Staging keys live under `<store prefix>.blobgate-staging/` (staged-write.ts). */
export { STAGING_DIR, newStagingName as newStagingKey } from '../staged-write.js';

/**
 * One lib-storage multipart upload of the body to the staging key. stop()
 * ends it at once (parts in flight cancelled, no new parts) rather than after
 * the parts in flight; the protocol calls it when the signal fires or the
 * meter fails.
 */
export class S3StagedUpload implements StagedUpload {
  private readonly transfer: TransferClient;
  private upload: Upload | undefined;
  private body: Readable | undefined;

  constructor(
    private readonly client: S3Client,
    private readonly bucket: string,
    readonly name: string,
    private readonly contentType: string,
    private readonly partSize: number,
    private readonly queueSize: number,
  ) {
    this.transfer = trackTransfer(client);
  }

  async send(body: Readable): Promise<void> {
    this.body = body;
    this.upload = new Upload({
      client: this.transfer.client,
      // No ContentLength: the size is counted, never announced, so lib-storage's
      // expected-part-count check (the one that once skipped the abort, #8299) does not apply.
      params: { Bucket: this.bucket, Key: this.name, Body: body, ContentType: this.contentType },
      partSize: this.partSize,
      queueSize: this.queueSize,
      leavePartsOnError: false,
    });
    await this.upload.done();
  }

  stop(): void {
    this.transfer.cancel();
    void this.upload?.abort();
    this.body?.destroy();
  }

  /** Waits for lib-storage's requests to come back; the cleanup aborts every upload seen and deletes the staging object. */
  async settle(): Promise<() => Promise<void>> {
    await this.transfer.settled();
    const { client, bucket, name } = this;
    const ids = new Set(this.transfer.uploadIds);
    return () => discardStaging(client, bucket, name, ids);
  }

  remove(): Promise<void> {
    return removeStagingObject(this.client, this.bucket, this.name);
  }
}

/** A key as the path part of `x-amz-copy-source`: each segment URI-encoded, slashes kept. */
export function encodeKeyPath(key: string): string {
  return key.split('/').map(encodeURIComponent).join('/');
}

/**
 * Removes every trace of a failed staged upload: aborts each multipart upload
 * we saw created, plus any the listing shows for the staging key (one whose
 * CreateMultipartUpload answer never reached us), then deletes the staging
 * object in case CompleteMultipartUpload got through. Safe to run again (an
 * upload already aborted is NoSuchUpload, a deleted object deletes again);
 * rejects while anything may remain, so the janitor retries it.
 */
export async function discardStaging(client: S3Client, bucket: string, stagingKey: string, uploadIds: ReadonlySet<string>): Promise<void> {
  const ids = new Set(uploadIds);
  const listed = await client.send(new ListMultipartUploadsCommand({ Bucket: bucket, Prefix: stagingKey }));
  for (const u of listed.Uploads ?? []) if (u.Key === stagingKey && u.UploadId) ids.add(u.UploadId);
  const aborts = await Promise.allSettled([...ids].map((UploadId) => abortUpload(client, bucket, stagingKey, UploadId)));
  const failed = aborts.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed) throw failed.reason;
  await removeStagingObject(client, bucket, stagingKey);
}

/** AbortMultipartUpload; NoSuchUpload means it is gone already (aborted by lib-storage, or completed). */
export async function abortUpload(client: S3Client, bucket: string, key: string, uploadId: string): Promise<void> {
  try {
    await client.send(new AbortMultipartUploadCommand({ Bucket: bucket, Key: key, UploadId: uploadId }));
  } catch (err) {
    if (errorName(err) !== 'NoSuchUpload') throw err;
  }
}

/** Deletes the staging object (DeleteObject is idempotent; the SDK retries transient failures). */
export async function removeStagingObject(client: S3Client, bucket: string, stagingKey: string): Promise<void> {
  await client.send(new DeleteObjectCommand({ Bucket: bucket, Key: stagingKey }));
}
