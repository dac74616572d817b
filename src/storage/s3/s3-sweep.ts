import { ListMultipartUploadsCommand, ListObjectsV2Command, type S3Client } from '@aws-sdk/client-s3';
import { storageError } from './s3-errors.js';
import { abortUpload, removeStagingObject } from './staging.js';

/**
 * What a crashed process leaves on S3, removed once older than `olderThan`:
 * multipart uploads and staging objects under the staging prefix (the only
 * place blobgate creates either, s3-write.ts). Other uploads under the
 * store prefix are left alone: they are not blobgate's. An upload's age is
 * its `Initiated` time, so `olderThan` must lie before the start of every
 * write still running on any replica (README "Failure behaviour").
 */
export async function sweepS3Staging(client: S3Client, bucket: string, stagingPrefix: string, olderThan: Date): Promise<number> {
  try {
    return (await sweepUploads(client, bucket, stagingPrefix, olderThan)) + (await sweepObjects(client, bucket, stagingPrefix, olderThan));
  } catch (err) {
    throw storageError(err, 'sweeping staging uploads and objects');
  }
}

async function sweepUploads(client: S3Client, bucket: string, prefix: string, olderThan: Date): Promise<number> {
  let removed = 0;
  let markers: { KeyMarker?: string; UploadIdMarker?: string } = {};
  for (;;) {
    const out = await client.send(new ListMultipartUploadsCommand({ Bucket: bucket, Prefix: prefix, ...markers }));
    for (const u of out.Uploads ?? []) {
      if (!u.Key || !u.UploadId || !u.Initiated || u.Initiated >= olderThan) continue;
      await abortUpload(client, bucket, u.Key, u.UploadId);
      removed++;
    }
    if (!out.IsTruncated || (out.NextKeyMarker === undefined && out.NextUploadIdMarker === undefined)) return removed;
    markers = { ...(out.NextKeyMarker ? { KeyMarker: out.NextKeyMarker } : {}), ...(out.NextUploadIdMarker ? { UploadIdMarker: out.NextUploadIdMarker } : {}) };
  }
}

async function sweepObjects(client: S3Client, bucket: string, prefix: string, olderThan: Date): Promise<number> {
  let removed = 0;
  let token: string | undefined;
  do {
    const out = await client.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, ...(token ? { ContinuationToken: token } : {}) }));
    for (const o of out.Contents ?? []) {
      if (!o.Key || !o.LastModified || o.LastModified >= olderThan) continue;
      await removeStagingObject(client, bucket, o.Key);
      removed++;
    }
    token = out.IsTruncated ? out.NextContinuationToken : undefined;
  } while (token);
  return removed;
}
