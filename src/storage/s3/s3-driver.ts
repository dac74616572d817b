import {
  DeleteObjectCommand,
  GetObjectCommand,
  type GetObjectCommandOutput,
  HeadBucketCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  type S3Client,
} from '@aws-sdk/client-s3';
import { Readable } from 'node:stream';
import pLimit from 'p-limit';
import { BlobgateError } from '../../errors.js';
import { BufferBudget, DEFAULT_BUFFER_BYTES } from '../buffer-budget.js';
import { Janitor } from '../janitor.js';
import { type ByteRange, type ListPage, type ListRequest, type ObjectMeta, type ReadResult, type SignUrlRequest, type StorageDriver, type StoredObject, type WriteRequest, bucketMissing } from '../driver.js';
import { decodeListCursor, encodeListCursor } from '../list-cursor.js';
import { decodeMeta } from '../meta-codec.js';
import { resolveRange } from '../range.js';
import { RECORDS_DIR } from '../records.js';
import { DIGEST_MARKER, DIGEST_SIDECAR, DIGESTS_DIR, S3Digests } from './s3-digests.js';
import { errorName, httpStatus, storageError, translateS3Error } from './s3-errors.js';
import { installS3Lifecycle, type LifecycleOptions } from './s3-lifecycle.js';
import { S3Records } from './s3-records.js';
import { presignGet } from './s3-sign.js';
import { DEFAULT_PART_SIZE, DEFAULT_QUEUE_SIZE, MAX_PART_SIZE, MIN_PART_SIZE, writeS3Object } from './s3-write.js';
import { STAGING_DIR } from './staging.js';
import { sweepS3Debris } from './s3-sweep.js';

export interface S3DriverOptions {
  /** A ready client (src/storage/s3/client.ts builds one from config). The driver destroys it on close(). */
  client: S3Client;
  bucket: string;
  /** Optional key prefix inside the bucket (several environments in one bucket). */
  prefix?: string;
  /**
   * Multipart part size in bytes, at least 5 MiB (S3's minimum). Default 8 MiB,
   * raised per write when the body could need more than 10,000 parts.
   * Memory per transfer is at most partSize × (queueSize + 1), taken from
   * `buffers` (see DEFAULT_PART_SIZE in s3-write.ts).
   */
  partSize?: number;
  /** Parts uploaded concurrently per transfer. Default 4. */
  queueSize?: number;
  /** Owns failed cleanups (the registry builds one per store from config). The driver closes it. Default: one with default settings. */
  janitor?: Janitor;
  /** The process's budget of part buffers (limits.buffer-bytes; the registry passes one shared by every store). Default: one of this driver's own. */
  buffers?: BufferBudget;
}

/** HeadObject calls in flight per list() page (ListObjectsV2 returns no user metadata). */
const LIST_HEAD_CONCURRENCY = 8;

/**
 * The S3 store. A write of one part is one PutObject; a larger one is a
 * multipart upload straight to the final key with its sha256 in a sidecar
 * named by the object's ETag (s3-write.ts, s3-digests.ts); meta lives in S3
 * user metadata (meta-codec.ts).
 *
 * What reading an object written in parts costs: its meta (head, a whole
 * read, each item of a list, which already HEADs every item) needs one more
 * GET, of its sidecar, cached per process. A delete lists the key's
 * sidecars (one more request) and deletes them.
 */
export class S3Driver implements StorageDriver {
  readonly backend = 's3' as const;
  readonly bucket: string;
  private readonly client: S3Client;
  private readonly prefix: string;
  private readonly partSize: number;
  private readonly queueSize: number;
  /** The configured part size (see StorageDriver.writeUnitBytes). */
  readonly writeUnitBytes: number;
  readonly janitor: Janitor;
  /** Records at `<prefix>.blobgate-records/` (s3-records.ts). */
  readonly records: S3Records;
  readonly buffers: BufferBudget;
  private readonly digests: S3Digests;

  constructor(opts: S3DriverOptions) {
    const partSize = opts.partSize ?? DEFAULT_PART_SIZE;
    const queueSize = opts.queueSize ?? DEFAULT_QUEUE_SIZE;
    if (!opts.bucket) throw new RangeError('bucket must be a non-empty bucket name');
    if (!Number.isSafeInteger(partSize) || partSize < MIN_PART_SIZE || partSize > MAX_PART_SIZE) {
      throw new RangeError(`partSize must be an integer from ${MIN_PART_SIZE} (5 MiB, the S3 minimum) to ${MAX_PART_SIZE}, got ${partSize}`);
    }
    if (!Number.isSafeInteger(queueSize) || queueSize < 1) throw new RangeError(`queueSize must be a positive integer, got ${queueSize}`);
    this.client = opts.client;
    this.bucket = opts.bucket;
    this.prefix = opts.prefix ? opts.prefix.replace(/\/*$/, '/') : '';
    this.partSize = partSize;
    this.writeUnitBytes = partSize;
    this.queueSize = queueSize;
    this.janitor = opts.janitor ?? new Janitor({ store: opts.bucket });
    this.records = new S3Records(this.client, this.bucket, this.prefix);
    this.digests = new S3Digests(this.client, this.bucket, this.prefix);
    this.buffers = opts.buffers ?? new BufferBudget(DEFAULT_BUFFER_BYTES);
  }

  write(req: WriteRequest): Promise<StoredObject> {
    return writeS3Object(
      {
        client: this.client,
        bucket: this.bucket,
        objectKey: this.physical(req.key),
        partSize: this.partSize,
        queueSize: this.queueSize,
        janitor: this.janitor,
        budget: this.buffers,
        digests: this.digests,
      },
      req,
    );
  }

  async head(key: string): Promise<StoredObject> {
    const { meta } = await this.headObject(key);
    return { key, meta };
  }

  async read(key: string, range?: ByteRange): Promise<ReadResult> {
    if (range === undefined) {
      const out = await this.getObject(key);
      const body = bodyOf(out);
      try {
        return { object: { key, meta: await this.metaOf(key, out, out.ContentLength ?? 0) }, body };
      } catch (err) {
        body.destroy();
        throw err;
      }
    }
    // Ranges are resolved against the size from HeadObject (resolveRange, like
    // every driver), so 416s and suffix ranges behave the same on every S3
    // implementation; IfMatch pins the GET to the object that was resolved.
    for (let attempt = 0; ; attempt++) {
      const { meta, etag } = await this.headObject(key);
      const resolved = resolveRange(range, meta.size);
      try {
        const out = await this.getObject(key, `bytes=${resolved.start}-${resolved.end}`, etag);
        return { object: { key, meta }, range: resolved, body: bodyOf(out) };
      } catch (err) {
        // Replaced between HEAD and GET: resolve again against the new object, once.
        if (attempt === 0 && err instanceof BlobgateError && errorName(err.cause) === 'PreconditionFailed') continue;
        throw err;
      }
    }
  }

  /** Deletes the object, then the digest sidecars of its versions (s3-digests.ts) written before the delete began. */
  async delete(key: string): Promise<void> {
    const began = new Date();
    try {
      await this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: this.physical(key) }));
    } catch (err) {
      throw translateS3Error(err, { key, what: `deleting ${key}` });
    }
    await this.janitor.discard(`digest sidecars of ${key}`, async () => void (await this.digests.removeStale(key, undefined, began)));
  }

  async list(req: ListRequest): Promise<ListPage> {
    // Our own cursor (list-cursor.ts), checked before any call and sent as StartAfter: a ContinuationToken handed
    // back garbled is S3's 400 InvalidArgument, which would come out as a 502 storage_error.
    const after = req.cursor ? decodeListCursor(req.cursor, req.prefix) : undefined;
    let out;
    try {
      out = await this.client.send(
        new ListObjectsV2Command({
          Bucket: this.bucket,
          Prefix: this.prefix + req.prefix,
          MaxKeys: req.limit,
          ...(after !== undefined ? { StartAfter: this.prefix + after } : {}),
        }),
      );
    } catch (err) {
      throw storageError(err, `listing ${req.prefix}`);
    }
    const hidden = [STAGING_DIR, RECORDS_DIR, DIGESTS_DIR].map((d) => this.prefix + d);
    const listed = (out.Contents ?? []).map((c) => c.Key).filter((k): k is string => k !== undefined && k.startsWith(this.prefix));
    // The next page starts after the last key listed, hidden or not, so a page of hidden keys still moves on.
    const last = listed.at(-1)?.slice(this.prefix.length);
    const keys = listed.filter((k) => !hidden.some((h) => k.startsWith(h))).map((k) => k.slice(this.prefix.length));
    const limit = pLimit(LIST_HEAD_CONCURRENCY);
    const heads = await Promise.all(
      keys.map((key) =>
        limit(async () => {
          try {
            return await this.head(key);
          } catch (err) {
            if (err instanceof BlobgateError && err.code === 'not_found') return undefined; // deleted while listing
            throw err;
          }
        }),
      ),
    );
    const items = heads.filter((i): i is StoredObject => i !== undefined);
    return out.IsTruncated && last !== undefined ? { items, cursor: encodeListCursor(last) } : { items };
  }

  signUrl(req: SignUrlRequest): Promise<string> {
    return presignGet(this.client, this.bucket, this.physical(req.key), req.key, req);
  }

  async ping(): Promise<void> {
    try {
      await this.client.send(new HeadBucketCommand({ Bucket: this.bucket }));
    } catch (err) {
      // HeadBucket has no body: a missing bucket is a bare 404 (NotFound), or NoSuchBucket from some S3-compatible stores.
      if (httpStatus(err) === 404 || errorName(err) === 'NoSuchBucket') throw bucketMissing(err);
      throw storageError(err, 'checking that the bucket is reachable');
    }
  }

  /**
   * Installs blobgate's lifecycle rules on the bucket, merged with the
   * bucket's other rules (idempotent; s3-lifecycle.ts): staging objects and
   * incomplete multipart uploads under the store prefix go after 1 day, and
   * with `expireAfterDays` every object under the prefix after that many
   * days. Rejects `storage_error` (e.g. without s3:Get/PutLifecycleConfiguration).
   */
  installLifecycle(opts: LifecycleOptions): Promise<{ rules: string[] }> {
    return installS3Lifecycle(this.client, this.bucket, this.prefix, opts);
  }

  /** blobgate's multipart uploads older than `olderThan` with their keys' stale sidecars, and staging objects (s3-sweep.ts). */
  sweepDebris(olderThan: Date): Promise<number> {
    return sweepS3Debris({ client: this.client, bucket: this.bucket, prefix: this.prefix, digests: this.digests }, olderThan);
  }

  async close(): Promise<void> {
    await this.janitor.close();
    this.client.destroy();
  }

  private physical(key: string): string {
    return this.prefix + key;
  }

  private async headObject(key: string): Promise<{ meta: ObjectMeta; etag: string | undefined }> {
    let out;
    try {
      out = await this.client.send(new HeadObjectCommand({ Bucket: this.bucket, Key: this.physical(key) }));
    } catch (err) {
      throw translateS3Error(err, { key, what: `reading the meta of ${key}` });
    }
    return { meta: await this.metaOf(key, out, out.ContentLength ?? 0), etag: out.ETag };
  }

  /** The object's meta; an object written in parts gets its sha256 from the sidecar its ETag names ('' when none vouches for it). */
  private async metaOf(key: string, out: { Metadata?: Record<string, string>; ContentType?: string; LastModified?: Date; ETag?: string }, size: number): Promise<ObjectMeta> {
    const meta = metaOf(out, size);
    if (meta.sha256 === '' && out.Metadata?.[DIGEST_MARKER] === DIGEST_SIDECAR) meta.sha256 = await this.digests.lookup(key, out.ETag, size);
    return meta;
  }

  private async getObject(key: string, range?: string, ifMatch?: string): Promise<GetObjectCommandOutput> {
    try {
      return await this.client.send(
        new GetObjectCommand({
          Bucket: this.bucket,
          Key: this.physical(key),
          ...(range === undefined ? {} : { Range: range }),
          ...(ifMatch === undefined ? {} : { IfMatch: ifMatch }),
        }),
      );
    } catch (err) {
      throw translateS3Error(err, { key, what: `reading ${key}` });
    }
  }
}

function metaOf(out: { Metadata?: Record<string, string>; ContentType?: string; LastModified?: Date }, size: number): ObjectMeta {
  return decodeMeta(out.Metadata, {
    size,
    ...(out.ContentType === undefined ? {} : { contentType: out.ContentType }),
    ...(out.LastModified === undefined ? {} : { lastModified: out.LastModified }),
  });
}

/** In Node the SDK's body is an IncomingMessage (a Readable) with SDK mixins. */
function bodyOf(out: GetObjectCommandOutput): Readable {
  const body: unknown = out.Body;
  if (body instanceof Readable) return body;
  throw new BlobgateError('storage_error', 'The S3 store answered without a readable body; see the server log.');
}
