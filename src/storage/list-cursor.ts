import { BlobgateError } from '../errors.js';

/**
 * The cursor of a driver's list() is blobgate's own on every store: base64url
 * of the logical key of the last object the page saw, which the next page
 * starts after (S3 StartAfter, GCS startOffset, the local walk). A store's own
 * page token never leaves its driver. The resource listing hands this cursor
 * to callers (inside its own, src/resources/list.ts), so a driver checks it
 * before any store call: an S3 ContinuationToken or GCS pageToken handed back
 * garbled was the store's 400, which came out as a 502 storage_error
 * (docs/storage-contract.md, `list`). The records store's cursor
 * (records.ts) is built the same way.
 */
export function encodeListCursor(lastKey: string): string {
  return Buffer.from(lastKey, 'utf8').toString('base64url');
}

/**
 * base64url of 1,024 bytes: no store holds a longer key (S3's and GCS's
 * limit, and what src/persist/keys.ts lets a caller name), so no cursor a
 * driver returned is longer.
 */
const MAX_CURSOR_CHARS = Math.ceil((1024 * 4) / 3);

/**
 * The key a cursor of `encodeListCursor` names. Rejects `invalid_request`
 * (details.field `cursor`) for one no list() of `prefix` returned: not
 * canonical base64url of UTF-8, longer than any key, holding a control
 * character (no key does, src/persist/keys.ts; GCS refuses CR and LF in a
 * name, so such a startOffset would be its 400), or a key that does not lie
 * under the prefix listed (another workspace's, another listing's). A key
 * equal to the prefix is one (`path-prefix` may name an object whole).
 */
export function decodeListCursor(cursor: string, prefix: string): string {
  const key = cursor.length <= MAX_CURSOR_CHARS && /^[A-Za-z0-9_-]+$/.test(cursor) ? Buffer.from(cursor, 'base64url').toString('utf8') : '';
  // eslint-disable-next-line no-control-regex
  if (key === '' || /[\u0000-\u001f\u007f]/.test(key) || !key.startsWith(prefix) || encodeListCursor(key) !== cursor) {
    throw badCursor();
  }
  return key;
}

/** The refusal of a cursor this API did not return (every listing's, and the records'). */
export function badCursor(): BlobgateError {
  return new BlobgateError('invalid_request', 'cursor is not one this API returned; start again without it.', { field: 'cursor' });
}
