/**
 * Records: the small state blobgate keeps that is not a blob — jobs,
 * idempotency keys, share tokens (docs/storage-contract.md#records). They live in an object
 * store like everything else, so the gateway stays stateless and any replica
 * answers, but apart from blobs: a record is never listed, read, signed or
 * deleted through a resource route.
 *
 * Keys given to a RecordStore are logical record keys
 * (`workspaces/<ws>/jobs/<id>.json`); each backend places them under its own
 * reserved tree (local `<root>/records/`, s3/gcs `<store prefix>.blobgate-records/`),
 * beside the `workspaces/` blob tree, so no workspace listing ever shows one
 * and one lifecycle rule can expire them all.
 *
 * A record body is small (at most RECORD_MAX_BYTES) and written whole: a
 * reader sees the previous body or the new one, never a part.
 *
 * Errors: `storage_error` (BlobgateError, SDK error as cause) for anything the
 * backend did wrong; a record that is absent is not an error.
 */
import { badCursor, decodeListCursor, encodeListCursor } from './list-cursor.js';

export const RECORDS_DIR = '.blobgate-records/';

/**
 * A records cursor is blobgate's own, the same as an object listing's
 * (list-cursor.ts): base64url of the last logical key of the page, which the
 * next page starts after (S3 StartAfter, GCS startOffset, the local walk).
 * The job list hands it to callers, so it is checked before any store call: a
 * store's own page token handed back garbled was a 400 from S3 that came out
 * as a 502 storage_error.
 */
export const encodeRecordCursor = encodeListCursor;

/**
 * The key a cursor of `encodeRecordCursor` names; `invalid_request` for one
 * this API did not return (decodeListCursor: not canonical base64url of
 * UTF-8, longer than any key, a control character, outside the prefix listed,
 * e.g. another workspace's), or for the prefix itself, which no record is.
 */
export function decodeRecordCursor(cursor: string, prefix: string): string {
  const key = decodeListCursor(cursor, prefix);
  if (key.length <= prefix.length) throw badCursor();
  return key;
}

/** Bodies larger than this are refused (a programming error, not a caller's). */
export const RECORD_MAX_BYTES = 256 * 1024;

export interface RecordPage {
  /** Logical keys, ascending. */
  keys: string[];
  /** Set when more keys may follow. */
  cursor?: string;
}

export interface RecordStore {
  /**
   * Writes `body` at `key` only if no record is there, atomically against
   * every other writer in every process (local: link(2) of a complete temp
   * file, S3: PutObject `If-None-Match: *`, GCS: `ifGenerationMatch: 0`).
   * Resolves true when this call created it, false when a record was already
   * there (it is left untouched).
   */
  create(key: string, body: Buffer): Promise<boolean>;

  /** Writes `body` at `key`, replacing any record there, atomically. */
  put(key: string, body: Buffer): Promise<void>;

  /** The record's body, or undefined when there is none. */
  get(key: string): Promise<Buffer | undefined>;

  /** Removes the record. Idempotent. */
  delete(key: string): Promise<void>;

  /** Keys under a logical prefix, ascending, at most `limit` (1..1000) per page. */
  list(prefix: string, opts: { cursor?: string; limit: number }): Promise<RecordPage>;
}
