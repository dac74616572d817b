import { AbortMultipartUploadCommand, DeleteObjectCommand, ListMultipartUploadsCommand, type S3Client } from '@aws-sdk/client-s3';
import { randomUUID } from 'node:crypto';
import { errorName } from './s3-errors.js';

/**
 * Staging keys live under `<store prefix>.blobgate-staging/`: beside the
 * `workspaces/` tree, so no workspace listing ever shows them, and under one
 * prefix an operator can give a lifecycle rule.
 */
export const STAGING_DIR = '.blobgate-staging/';

export function newStagingKey(storePrefix: string): string {
  return `${storePrefix}${STAGING_DIR}${randomUUID()}`;
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
