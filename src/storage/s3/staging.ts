import { AbortMultipartUploadCommand, DeleteObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { errorName } from './s3-errors.js';

/**
 * What the S3 sweep (s3-sweep.ts) and the write's cleanup remove. S3 writes
 * no longer stage (s3-write.ts: multipart goes straight to the final key);
 * `<store prefix>.blobgate-staging/` is still swept for what versions that
 * staged left there, and its lifecycle rule stays installed.
 */
export { STAGING_DIR } from '../staged-write.js';

/** AbortMultipartUpload; NoSuchUpload means it is gone already (aborted before, or completed). */
export async function abortUpload(client: S3Client, bucket: string, key: string, uploadId: string): Promise<void> {
  try {
    await client.send(new AbortMultipartUploadCommand({ Bucket: bucket, Key: key, UploadId: uploadId }));
  } catch (err) {
    if (errorName(err) !== 'NoSuchUpload') throw err;
  }
}

/** Deletes a staging object (DeleteObject is idempotent; the SDK retries transient failures). */
export async function removeStagingObject(client: S3Client, bucket: string, stagingKey: string): Promise<void> {
  await client.send(new DeleteObjectCommand({ Bucket: bucket, Key: stagingKey }));
}
