import type { Readable } from 'node:stream';
import { BlobgateError } from '../errors.js';
import type { Janitor } from './janitor.js';
import type { RecordStore } from './records.js';

/**
 * The storage driver contract. Every driver (local, s3, gcs) implements it and
 * passes the conformance list (src/conformance/list.ts; its tap runner is
 * test/contract/driver-contract.ts) against a real server (docs/storage-contract.md).
 * Drivers never read configuration: the registry
 * (src/storage/registry.ts) builds them from validated config.
 *
 * Keys given to and returned by a driver are *logical* keys
 * (`workspaces/<ws>/...`); a store-level `prefix` from config is applied and
 * stripped inside the driver. Keys reaching a driver are already validated by
 * src/persist/keys.ts.
 *
 * Errors: drivers throw BlobgateError (src/errors.ts) with one of the driver
 * codes below, keeping any SDK error as `cause`. A backend message never goes
 * into the BlobgateError message.
 *   - `not_found`              the key does not exist (head, read)
 *   - `cap_exceeded`           the body carried more than `maxBytes` (write)
 *   - `range_not_satisfiable`  the range lies outside the object (read); details.size set
 *   - `aborted`                the signal fired during the write
 *   - `storage_error`          anything else the backend did wrong
 * A write whose source `body` emitted an error rejects with that same error,
 * unchanged, after cleaning up.
 */

/**
 * The probe's error for a bucket that does not exist. blobgate never creates
 * buckets (README "Operating blobgate"): that is the operator's to do.
 */
export function bucketMissing(cause: unknown): BlobgateError {
  return new BlobgateError('storage_error', "The store's bucket is missing, and blobgate never creates buckets: create it, or correct the store's bucket name.", { reason: 'bucket_missing' }, { cause });
}

export type Tier = 'retained' | 'ephemeral';
export const TIERS: readonly Tier[] = ['retained', 'ephemeral'];

export type Backend = 'local' | 's3' | 'gcs';

/**
 * Bytes of blobgate's meta map (meta-codec.ts: the bg-* names and their
 * encoded values) every driver keeps with an object. S3 allows 2 KiB of user
 * metadata per object, the smallest budget of the backends; what a caller
 * puts into meta (the search index, src/persist/search-index.ts) is sized
 * against this, so the same blob fits on every store.
 */
export const META_BUDGET_BYTES = 2048;

/** Storage scope fields of a slot persist, indexed for filtering (docs/seed-contract.md#slots). */
export interface StorageScope {
  slot: string;
  root: string;
  /** path of the object relative to the root */
  relativePath: string;
}

export interface SearchIndex {
  text?: string;
  tags?: string[];
  sourceLabel?: string;
  includeRawContent?: boolean;
  /** Excerpt of the raw text of a text-like retained blob (src/persist/search-index.ts). */
  rawText?: string;
}

/** What is known about an object before its bytes are written. */
export interface ObjectMetaInit {
  contentType: string;
  tier: Tier;
  createdAt: string;
  expiresAt?: string;
  storage?: StorageScope;
  searchIndex?: SearchIndex;
  /**
   * The write id of the search-index sidecar this object's index lives in,
   * when it is too large for meta (src/persist/search-sidecar.ts): a reader
   * trusts only the sidecar this names.
   */
  searchIndexId?: string;
}

/** Everything a store keeps with an object. size and sha256 are counted by the driver while writing. */
export interface ObjectMeta extends ObjectMetaInit {
  size: number;
  sha256: string;
}

export interface StoredObject {
  key: string;
  meta: ObjectMeta;
}

export interface WriteRequest {
  key: string;
  /**
   * The driver owns `body` from the moment write() is called: it consumes it
   * to the end, or destroys it on every failure path (including a failure
   * before the first read).
   */
  body: Readable;
  /** More than this many bytes fails the write with `cap_exceeded`; exactly this many is accepted. */
  maxBytes: number;
  /** A size announced by the source (e.g. Content-Length). A hint for part sizing only: bytes are always counted. */
  expectedSize?: number;
  meta: ObjectMetaInit;
  /** Aborting fails the write with `aborted` (or the signal's reason if it is a BlobgateError). */
  signal: AbortSignal;
  /** Told the size of each chunk of the body as the driver counts it (within the cap), for progress reports. */
  progress?: (bytes: number) => void;
}

/** Inclusive byte range resolved against an object's size. */
export interface ResolvedRange {
  start: number;
  end: number;
}

/** A range as a client asks for it: `bytes=s-e`, `bytes=s-` or `bytes=-n`. */
export type ByteRange = { start: number; end?: number } | { suffix: number };

export interface ReadResult {
  object: StoredObject;
  /** Present when a range was asked for. */
  range?: ResolvedRange;
  /** The caller owns the stream and must consume or destroy it. */
  body: Readable;
}

export interface ListRequest {
  /** Logical key prefix; only keys starting with it are listed. */
  prefix: string;
  /**
   * Opaque cursor from a previous page of the same prefix. It reaches callers (the resource listing), so one
   * this driver never returned rejects `invalid_request` (details.field `cursor`) before any store call.
   */
  cursor?: string;
  /** At most this many items (1..1000). */
  limit: number;
}

export interface ListPage {
  /** In ascending key order. */
  items: StoredObject[];
  /** Set when more items may follow. */
  cursor?: string;
}

export interface SignUrlRequest {
  key: string;
  expiresInSeconds: number;
  /** Ask the browser to save rather than display (Content-Disposition: attachment). */
  download?: boolean;
  filename?: string;
}

export interface StorageDriver {
  readonly backend: Backend;
  /** The bucket (s3, gcs) or null for the local driver. */
  readonly bucket: string | null;
  /**
   * Optional: the size of the pieces a large write goes up in — the S3 part
   * size (a write may raise it to stay within 10,000 parts), the GCS chunk
   * size. Drivers that write in one stream (local) leave it out.
   */
  readonly writeUnitBytes?: number;

  /**
   * Stores `body` at `key`, all or nothing: the object (bytes and meta) becomes
   * visible only when the whole body was received within `maxBytes` and the
   * backend committed it; an existing object at `key` is replaced atomically.
   * On any failure (body error, cap, abort, backend error) nothing is visible
   * at the key and nothing is left behind (no temp file, no multipart upload,
   * no resumable session), and the promise rejects with a driver error. The
   * cleanup's first attempt is made before the promise settles; one that
   * fails (the store is down) is handed to the driver's janitor, which
   * retries it until it is done.
   */
  write(req: WriteRequest): Promise<StoredObject>;

  /** The object's meta. Rejects `not_found` when absent. */
  head(key: string): Promise<StoredObject>;

  /**
   * Opens the object for reading, whole or a range. Rejects `not_found` when
   * absent and `range_not_satisfiable` (details.size) for a range outside it.
   */
  read(key: string, range?: ByteRange): Promise<ReadResult>;

  /** Removes the object. Idempotent: deleting an absent key succeeds. */
  delete(key: string): Promise<void>;

  /** Lists objects under a prefix, ascending by key, paged by an opaque cursor. */
  list(req: ListRequest): Promise<ListPage>;

  /**
   * Optional capability: a URL the backend serves itself. Drivers without it
   * (local) get URLs signed and served by blobgate (src/signing/).
   */
  signUrl?(req: SignUrlRequest): Promise<string>;

  /**
   * Optional capability: deletes objects whose expires-at has passed and says
   * how many. Stores with native expiry (bucket lifecycle rules) leave it out.
   */
  sweepExpired?(now: number): Promise<number>;

  /**
   * Optional capability: a cheap reachability probe for /readyz. Rejects
   * `storage_error`; made by `bucketMissing()` (details.reason
   * `bucket_missing`) when the bucket does not exist.
   */
  ping?(): Promise<void>;

  /**
   * Optional capability (s3, gcs): installs blobgate's bucket lifecycle rules, scoped to the
   * store prefix, merged with the bucket's other rules (idempotent): staging objects (and on S3
   * incomplete multipart uploads) after 1 day, and every object under the prefix after
   * `expireAfterDays` when given, and records (`<prefix>.blobgate-records/`) after `recordsExpireAfterDays`
   * when given (a backstop: records carry their own logical expiry). Resolves with one line per rule
   * for the log. Rejects `storage_error`.
   */
  installLifecycle?(opts: { expireAfterDays?: number; recordsExpireAfterDays?: number }): Promise<{ rules: string[] }>;

  /**
   * Optional capability: the janitor that owns this store's cleanups
   * (src/storage/janitor.ts). The driver hands it every discard that failed
   * or was deferred, and closes it in close().
   */
  readonly janitor?: Janitor;

  /**
   * Optional capability: removes what a crashed process left behind —
   * staging objects, multipart uploads, recorded sessions, temp files, data
   * files no meta names — that is older than `olderThan`, never a write still
   * running. Resolves with how many items it removed. Rejects `storage_error`.
   */
  sweepDebris?(olderThan: Date): Promise<number>;

  /**
   * Optional capability: the store's records (src/storage/records.ts) — jobs,
   * idempotency keys, share tokens — kept apart from its blobs.
   */
  readonly records?: RecordStore;

  /** Closes the janitor (one last attempt at pending cleanups), then releases clients and sockets. The driver is unusable afterwards. */
  close(): Promise<void>;
}
