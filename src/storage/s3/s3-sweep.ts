import { ListMultipartUploadsCommand, ListObjectsV2Command, type S3Client } from '@aws-sdk/client-s3';
import type { S3Digests } from './s3-digests.js';
import { storageError } from './s3-errors.js';
import { STAGING_DIR, abortUpload, removeStagingObject } from './staging.js';

/** Where blobgate's blobs live under the store prefix (docs/key-layout.md). */
const BLOB_TREE = 'workspaces/';

export interface SweepTarget {
  client: S3Client;
  bucket: string;
  /** The store prefix, '' or ending in '/'. */
  prefix: string;
  digests: S3Digests;
}

/**
 * What a crashed process leaves on S3, removed once older than `olderThan`:
 *
 * - multipart uploads at final keys (`<prefix>workspaces/…`, where
 *   s3-write.ts uploads), and with each the key's sidecars that no live
 *   object has (the crashed write's, written before its Complete);
 * - multipart uploads and staging objects under `<prefix>.blobgate-staging/`,
 *   which versions that staged left.
 *
 * Uploads elsewhere under the store prefix are left alone: they are not
 * blobgate's. An upload's age is its `Initiated` time, so `olderThan` must
 * lie before the start of every write still running on any replica (README
 * "Failure behaviour").
 */
export async function sweepS3Debris(t: SweepTarget, olderThan: Date): Promise<number> {
  try {
    const blobs = t.prefix + BLOB_TREE;
    const staging = t.prefix + STAGING_DIR;
    const atFinalKeys = await sweepUploads(t, blobs, olderThan, async (objectKey) => {
      const key = objectKey.slice(t.prefix.length);
      await t.digests.removeStale(key, await t.digests.liveEtag(objectKey), olderThan);
    });
    return atFinalKeys + (await sweepUploads(t, staging, olderThan)) + (await sweepObjects(t, staging, olderThan));
  } catch (err) {
    throw storageError(err, 'sweeping multipart uploads, sidecars and staging objects');
  }
}

async function sweepUploads(t: SweepTarget, prefix: string, olderThan: Date, after?: (objectKey: string) => Promise<void>): Promise<number> {
  let removed = 0;
  let markers: { KeyMarker?: string; UploadIdMarker?: string } = {};
  for (;;) {
    const out = await t.client.send(new ListMultipartUploadsCommand({ Bucket: t.bucket, Prefix: prefix, ...markers }));
    for (const u of out.Uploads ?? []) {
      if (!u.Key || !u.UploadId || !u.Initiated || u.Initiated >= olderThan) continue;
      await abortUpload(t.client, t.bucket, u.Key, u.UploadId);
      await after?.(u.Key);
      removed++;
    }
    if (!out.IsTruncated || (out.NextKeyMarker === undefined && out.NextUploadIdMarker === undefined)) return removed;
    markers = { ...(out.NextKeyMarker ? { KeyMarker: out.NextKeyMarker } : {}), ...(out.NextUploadIdMarker ? { UploadIdMarker: out.NextUploadIdMarker } : {}) };
  }
}

async function sweepObjects(t: SweepTarget, prefix: string, olderThan: Date): Promise<number> {
  let removed = 0;
  let token: string | undefined;
  do {
    const out = await t.client.send(new ListObjectsV2Command({ Bucket: t.bucket, Prefix: prefix, ...(token ? { ContinuationToken: token } : {}) }));
    for (const o of out.Contents ?? []) {
      if (!o.Key || !o.LastModified || o.LastModified >= olderThan) continue;
      await removeStagingObject(t.client, t.bucket, o.Key);
      removed++;
    }
    token = out.IsTruncated ? out.NextContinuationToken : undefined;
  } while (token);
  return removed;
}
