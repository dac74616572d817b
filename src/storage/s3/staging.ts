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
 * object in case CompleteMultipartUpload got through. Best effort by nature:
 * the write has already failed, and its own error is what the caller gets.
 */
export async function discardStaging(client: S3Client, bucket: string, stagingKey: string, uploadIds: ReadonlySet<string>): Promise<void> {
  const ids = new Set(uploadIds);
  try {
    const listed = await client.send(new ListMultipartUploadsCommand({ Bucket: bucket, Prefix: stagingKey }));
    for (const u of listed.Uploads ?? []) if (u.Key === stagingKey && u.UploadId) ids.add(u.UploadId);
  } catch {
    // The listing is the second line of defence; the recorded UploadIds are the first.
  }
  await Promise.allSettled(
    [...ids].map((UploadId) =>
      client.send(new AbortMultipartUploadCommand({ Bucket: bucket, Key: stagingKey, UploadId })).catch((err: unknown) => {
        if (errorName(err) !== 'NoSuchUpload') throw err; // already aborted (by lib-storage) or completed
      }),
    ),
  );
  await removeStagingObject(client, bucket, stagingKey);
}

/** Deletes the staging object; DeleteObject is idempotent, so one retry covers a transient failure. */
export async function removeStagingObject(client: S3Client, bucket: string, stagingKey: string): Promise<void> {
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      await client.send(new DeleteObjectCommand({ Bucket: bucket, Key: stagingKey }));
      return;
    } catch {
      // the SDK already retried transient errors; one more round, then the lifecycle rule takes over
    }
  }
}
