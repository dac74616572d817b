import type { Bucket, File, Storage } from '@google-cloud/storage';
import type { Dispatcher } from 'undici';
import { BufferBudget, DEFAULT_BUFFER_BYTES } from '../buffer-budget.js';
import { type ByteRange, type ListPage, type ListRequest, type ObjectMeta, type ReadResult, type SignUrlRequest, type StorageDriver, type StoredObject, type WriteRequest, bucketMissing } from '../driver.js';
import { Janitor } from '../janitor.js';
import { decodeListCursor, encodeListCursor } from '../list-cursor.js';
import { resolveRange } from '../range.js';
import { RECORDS_DIR } from '../records.js';
import { listNamesAfter } from './gcs-list.js';
import { gcsStatus, isBucketMissing, storageError, translateGcsError } from './gcs-errors.js';
import { installGcsLifecycle, type LifecycleOptions } from './gcs-lifecycle.js';
import { metaOf, openDownload } from './gcs-read.js';
import { GcsRecords } from './gcs-records.js';
import { signReadUrl } from './gcs-sign.js';
import { sessionDispatcher } from './gcs-session-upload.js';
import { STAGING_DIR, type SessionPlane, newStagingName } from './gcs-staging.js';
import { sweepGcsStaging } from './gcs-sweep.js';
import { CHUNK_ALIGN, DEFAULT_CHUNK_SIZE, DEFAULT_PARALLEL_PARTS, MAX_PARALLEL_PARTS, writeGcsObject } from './gcs-write.js';

export interface GcsDriverOptions {
  /** A ready client (src/storage/gcs/client.ts builds one from config). */
  storage: Storage;
  bucket: string;
  /** Optional name prefix inside the bucket (several environments in one bucket). */
  prefix?: string;
  /**
   * Resumable-upload chunk size in bytes, a positive multiple of 256 KiB
   * (GCS's rule for every chunk but the last). Default 8 MiB. Bodies of at
   * most one chunk go up in a single request. Memory per transfer on the
   * resumable path is two chunks, from `buffers` (see DEFAULT_CHUNK_SIZE in
   * gcs-write.ts).
   */
  chunkSize?: number;
  /**
   * Parts in flight of a parallel composite upload (gcs-parts.ts), 1 to
   * MAX_PARALLEL_PARTS, default 1 (why: DEFAULT_PARALLEL_PARTS). Above 1, a
   * body of more than one chunk is sent as parts of one chunk each, that many
   * at a time, and published by a compose. 1: one resumable upload, one chunk
   * at a time, published by a rewrite (objects keep an MD5; no parts, for
   * buckets where early deletion costs).
   */
  parallelParts?: number;
  /** Owns failed cleanups (the registry builds one per store from config). The driver closes it. Default: one with default settings. */
  janitor?: Janitor;
  /** The process's budget of transfer buffers (limits.buffer-bytes; the registry passes one shared by every store), which the resumable path's chunks and the composite upload's parts come from. Default: one of this driver's own. */
  buffers?: BufferBudget;
}

/**
 * The GCS store. Writes go up in one request (small bodies), as parts in
 * parallel published by a compose, or (`parallelParts: 1`) through a
 * resumable session to a staging name published by a rewrite, always with
 * their complete metadata (gcs-write.ts); meta lives in the object's custom
 * metadata (meta-codec.ts).
 */
export class GcsDriver implements StorageDriver {
  readonly backend = 'gcs' as const;
  readonly bucket: string;
  private readonly storage: Storage;
  private readonly gcsBucket: Bucket;
  private readonly prefix: string;
  private readonly chunkSize: number;
  private readonly parallelParts: number;
  /** The chunk size (see StorageDriver.writeUnitBytes). */
  readonly writeUnitBytes: number;
  readonly janitor: Janitor;
  /** Records at `<prefix>.blobgate-records/` (gcs-records.ts). */
  readonly records: GcsRecords;
  readonly buffers: BufferBudget;
  /** Connections for resumable-session chunks (gcs-session-upload.ts); the client's own requests use Node's global agent. */
  private readonly dispatcher: Dispatcher;
  private readonly sessions: SessionPlane;

  constructor(opts: GcsDriverOptions) {
    const chunkSize = opts.chunkSize ?? DEFAULT_CHUNK_SIZE;
    if (!opts.bucket) throw new RangeError('bucket must be a non-empty bucket name');
    if (!Number.isSafeInteger(chunkSize) || chunkSize < CHUNK_ALIGN || chunkSize % CHUNK_ALIGN !== 0) {
      throw new RangeError(`chunkSize must be a positive multiple of ${CHUNK_ALIGN} (256 KiB, the GCS chunk unit), got ${chunkSize}`);
    }
    this.storage = opts.storage;
    this.bucket = opts.bucket;
    this.gcsBucket = opts.storage.bucket(opts.bucket);
    this.prefix = opts.prefix ? opts.prefix.replace(/\/*$/, '/') : '';
    const parallelParts = opts.parallelParts ?? DEFAULT_PARALLEL_PARTS;
    if (!Number.isSafeInteger(parallelParts) || parallelParts < 1 || parallelParts > MAX_PARALLEL_PARTS) {
      throw new RangeError(`parallelParts must be a whole number from 1 to ${MAX_PARALLEL_PARTS}, got ${parallelParts}`);
    }
    this.chunkSize = chunkSize;
    this.parallelParts = parallelParts;
    this.writeUnitBytes = chunkSize;
    this.janitor = opts.janitor ?? new Janitor({ store: opts.bucket });
    this.records = new GcsRecords(this.gcsBucket, this.prefix);
    this.buffers = opts.buffers ?? new BufferBudget(DEFAULT_BUFFER_BYTES);
    this.dispatcher = sessionDispatcher();
    this.sessions = { chunkSize, budget: this.buffers, dispatcher: this.dispatcher };
  }

  write(req: WriteRequest): Promise<StoredObject> {
    return writeGcsObject(
      {
        storage: this.storage,
        bucket: this.gcsBucket,
        objectName: this.physical(req.key),
        stagingName: newStagingName(this.prefix),
        chunkSize: this.chunkSize,
        parallelParts: this.parallelParts,
        janitor: this.janitor,
        sessions: this.sessions,
      },
      req,
    );
  }

  async head(key: string): Promise<StoredObject> {
    const { meta } = await this.stat(key);
    return { key, meta };
  }

  /**
   * Ranges are resolved against the size from the metadata GET (resolveRange,
   * like every driver), and the download is pinned to the generation that
   * was resolved, so meta, range and bytes describe one object. When the
   * object was replaced or deleted in between, the pinned GET answers 404:
   * resolve once more against what is there now.
   */
  async read(key: string, range?: ByteRange): Promise<ReadResult> {
    for (let attempt = 0; ; attempt++) {
      const { meta, generation } = await this.stat(key);
      const resolved = range ? resolveRange(range, meta.size) : undefined;
      const file = this.gcsBucket.file(this.physical(key), generation === undefined ? {} : { generation });
      try {
        const body = await openDownload(file, resolved);
        return { object: { key, meta }, ...(resolved ? { range: resolved } : {}), body };
      } catch (err) {
        if (attempt === 0 && gcsStatus(err) === 404 && !isBucketMissing(err)) continue;
        throw translateGcsError(err, { key, what: `reading ${key}`, size: meta.size });
      }
    }
  }

  async delete(key: string): Promise<void> {
    try {
      await this.file(key).delete();
    } catch (err) {
      if (gcsStatus(err) === 404 && !isBucketMissing(err)) return; // already absent: delete is idempotent
      throw translateGcsError(err, { what: `deleting ${key}` });
    }
  }

  /**
   * Custom metadata comes with each listed object resource, so no per-item metadata GET is needed.
   * The cursor is our own (list-cursor.ts), checked before any call: a pageToken handed back garbled is
   * GCS's 400, which would come out as a 502 storage_error (the paging: gcs-list.ts).
   */
  async list(req: ListRequest): Promise<ListPage> {
    const after = req.cursor ? this.prefix + decodeListCursor(req.cursor, req.prefix) : undefined;
    const { files: names, more } = await listNamesAfter(this.gcsBucket, { prefix: this.prefix + req.prefix, ...(after !== undefined ? { after } : {}), limit: req.limit, what: `listing ${req.prefix}` });
    const staging = this.prefix + STAGING_DIR;
    const records = this.prefix + RECORDS_DIR;
    const items = names
      .filter((f) => !f.name.startsWith(staging) && !f.name.startsWith(records))
      .map((f) => ({ key: f.name.slice(this.prefix.length), meta: metaOf(f.metadata) }));
    // The next page starts after the last name listed, hidden or not, so a page of hidden names still moves on.
    const last = names.at(-1)?.name.slice(this.prefix.length);
    return more && last !== undefined ? { items, cursor: encodeListCursor(last) } : { items };
  }

  async signUrl(req: SignUrlRequest): Promise<string> {
    try {
      return await signReadUrl(this.file(req.key), req.key, req);
    } catch (err) {
      throw storageError(err, `signing a URL for ${req.key}`);
    }
  }

  /**
   * Lists at most one name under the store prefix. A listing needs only
   * storage.objects.list, which the driver needs anyway; a bucket metadata
   * GET would need storage.buckets.get, which object-level roles (e.g.
   * roles/storage.objectAdmin) do not grant.
   */
  async ping(): Promise<void> {
    try {
      await this.gcsBucket.getFiles({ prefix: this.prefix, maxResults: 1, autoPaginate: false });
    } catch (err) {
      if (isBucketMissing(err)) throw bucketMissing(err);
      throw storageError(err, 'checking that the bucket is reachable');
    }
  }

  /**
   * Installs blobgate's lifecycle rules on the bucket, merged with the
   * bucket's other rules (idempotent; gcs-lifecycle.ts): staging objects
   * under the store prefix are deleted after 1 day, and with
   * `expireAfterDays` every object under the prefix at that age. Needs
   * storage.buckets.get and storage.buckets.update, which object-level roles
   * do not grant. Rejects `storage_error`.
   */
  installLifecycle(opts: LifecycleOptions): Promise<{ rules: string[] }> {
    return installGcsLifecycle(this.gcsBucket, this.prefix, opts);
  }

  /** Staging objects and recorded sessions under `<prefix>.blobgate-staging/` older than `olderThan` (gcs-sweep.ts). */
  sweepDebris(olderThan: Date): Promise<number> {
    return sweepGcsStaging(this.storage, this.gcsBucket, this.prefix + STAGING_DIR, olderThan);
  }

  async close(): Promise<void> {
    await this.janitor.close();
    // The session connections; the client keeps none of its own beyond Node's global agent.
    await this.dispatcher.close();
  }

  private physical(key: string): string {
    return this.prefix + key;
  }

  private file(key: string): File {
    return this.gcsBucket.file(this.physical(key));
  }

  private async stat(key: string): Promise<{ meta: ObjectMeta; generation: string | number | undefined }> {
    try {
      const [md] = await this.file(key).getMetadata();
      return { meta: metaOf(md), generation: md.generation };
    } catch (err) {
      throw translateGcsError(err, { key, what: `reading the meta of ${key}` });
    }
  }
}
