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
export const RECORDS_DIR = '.blobgate-records/';

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
