import type { Bucket, File } from '@google-cloud/storage';
import { storageError } from './gcs-errors.js';

/**
 * Up to `limit` objects named under `prefix`, strictly after `after` (a full
 * object name), and whether more follow: the one paging loop of the object
 * listing (gcs-driver.ts) and the records listing (gcs-records.ts), whose
 * cursors are blobgate's own (list-cursor.ts) so that no GCS page token
 * reaches a caller. startOffset is inclusive, so the name `after` itself is
 * skipped; one name beyond the page is asked for, to know whether more
 * follow; GCS may answer a short page with a token, so it is asked again
 * until the page is full or no token comes.
 */
export async function listNamesAfter(bucket: Bucket, q: { prefix: string; after?: string; limit: number; what: string }): Promise<{ files: File[]; more: boolean }> {
  const files: File[] = [];
  let pageToken: string | undefined;
  do {
    let page: File[];
    let response: unknown;
    try {
      [page, , response] = await bucket.getFiles({
        prefix: q.prefix,
        // The first page may hold `after` itself.
        maxResults: q.limit + 1 - files.length + (q.after !== undefined && pageToken === undefined ? 1 : 0),
        autoPaginate: false,
        ...(q.after !== undefined ? { startOffset: q.after } : {}),
        ...(pageToken ? { pageToken } : {}),
      });
    } catch (err) {
      throw storageError(err, q.what);
    }
    files.push(...page.filter((f) => f.name !== q.after && f.name.startsWith(q.prefix)));
    const next = (response as { nextPageToken?: unknown } | undefined)?.nextPageToken;
    pageToken = typeof next === 'string' && next !== '' ? next : undefined;
  } while (files.length <= q.limit && pageToken);
  const more = files.length > q.limit;
  if (more) files.length = q.limit;
  return { files, more };
}
