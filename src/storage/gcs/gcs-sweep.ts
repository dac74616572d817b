import type { Bucket, File, Storage } from '@google-cloud/storage';
import { gcsStatus, storageError } from './gcs-errors.js';
import { SESSION_SUFFIX, cancelSession, discardStaging, readRecord, removeObject } from './gcs-staging.js';


/**
 * What a crashed process leaves on GCS, removed once older than `olderThan`
 * (by `timeCreated`): staging objects (the parts and intermediates of a
 * parallel composite upload among them, `<staging name>/part-N`,
 * gcs-parts.ts), and the resumable sessions named by
 * their session records (gcs-staging.ts) — GCS cannot list sessions, so a
 * session whose record was never written (a crash in the instant between the
 * two) is beyond reach; it never becomes an object and GCS expires it after a
 * week. A record is written when its upload starts, so `olderThan` must lie
 * before the start of every write still running on any replica.
 */
export async function sweepGcsStaging(storage: Storage, bucket: Bucket, stagingPrefix: string, olderThan: Date): Promise<number> {
  let removed = 0;
  let pageToken: string | undefined;
  try {
    do {
      const [files, , response] = await bucket.getFiles({ prefix: stagingPrefix, autoPaginate: false, maxResults: 1000, ...(pageToken ? { pageToken } : {}) });
      for (const f of files) if (isOlder(f, olderThan)) removed += await sweepOne(storage, bucket, f);
      const next = (response as { nextPageToken?: unknown } | undefined)?.nextPageToken;
      pageToken = typeof next === 'string' && next !== '' ? next : undefined;
    } while (pageToken);
  } catch (err) {
    throw storageError(err, 'sweeping staging objects and sessions');
  }
  return removed;
}

function isOlder(f: File, olderThan: Date): boolean {
  const created = f.metadata.timeCreated === undefined ? NaN : Date.parse(f.metadata.timeCreated);
  return Number.isFinite(created) && created < olderThan.getTime();
}

/** One old staging object, or one old session record with its session and staging object. */
async function sweepOne(storage: Storage, bucket: Bucket, f: File): Promise<number> {
  if (!f.name.endsWith(SESSION_SUFFIX)) {
    await removeObject(f);
    return 1;
  }
  let record;
  try {
    record = await readRecord(bucket, f);
  } catch (err) {
    if (gcsStatus(err) === 404) return 0; // removed meanwhile by its own write
    throw err;
  }
  if (record.session !== undefined) await cancelSession(storage, record.session);
  await discardStaging(storage, record.staging, undefined);
  return 1;
}
