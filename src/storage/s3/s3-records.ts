import { DeleteObjectCommand, GetObjectCommand, HeadObjectCommand, ListObjectsV2Command, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { randomUUID } from 'node:crypto';
import { Readable } from 'node:stream';
import { setTimeout as delay } from 'node:timers/promises';
import { BlobgateError } from '../../errors.js';
import { decodeRecordCursor, encodeRecordCursor, RECORD_MAX_BYTES, RECORDS_DIR, type RecordPage, type RecordStore } from '../records.js';
import { errorName, httpStatus, storageError } from './s3-errors.js';

/**
 * User metadata (`x-amz-meta-blobgate-record-writer`) naming the create() call
 * that wrote an object: a fresh id per call, never part of the record's body.
 */
export const WRITER_META = 'blobgate-record-writer';

/** How often create() sends its conditional PutObject when S3 answers 409 ConditionalRequestConflict. */
export const CONFLICT_ATTEMPTS = 4;

/**
 * Records of an S3 store (src/storage/records.ts) at
 * `<store prefix>.blobgate-records/<logical key>`, beside the `workspaces/`
 * blob tree. Each record is one small object written whole by one PutObject,
 * so a reader sees the old body or the new one.
 *
 * create() is PutObject with `If-None-Match: *`: S3 commits it only when no
 * object is at the key, atomically against every other writer, and answers
 * 412 PreconditionFailed otherwise. Two answers need more than reading the
 * status:
 *
 * - A 412 after our own retry. The SDK retries a PutObject whose answer was
 *   lost (5xx, reset; client.ts), and a first attempt that S3 had committed
 *   makes the retry meet our own object: 412. So every create writes a fresh
 *   writer id in user metadata, and a 412 is settled by HeadObject: our id →
 *   this call created it (true), another id or none → another writer won
 *   (false), no object → one was there and has been deleted since (false).
 *   The id lives in metadata, not the body, which stays the caller's.
 * - 409 ConditionalRequestConflict. S3 documents it for a conditional write
 *   that meets a concurrent operation on the key — another conditional write
 *   in flight, or a delete that succeeded before this write completed — and
 *   says to retry (S3 User Guide "How to prevent object overwrites with
 *   conditional writes"; PutObject API, If-None-Match). It does not say that
 *   an object is there: after a concurrent delete there is none, and reading
 *   409 as "another writer won" would leave no record and no winner. So a 409
 *   is retried with the same writer id (CONFLICT_ATTEMPTS in all, short
 *   jittered pauses), until S3 answers 200 or 412; still 409 → storage_error.
 *
 * Errors: `storage_error` (SDK error as cause, no backend text, no record key
 * in the message: keys can hold share tokens); `path_invalid` for a key that
 * is not a plain relative path.
 */
export class S3Records implements RecordStore {
  private readonly base: string;

  constructor(
    private readonly client: S3Client,
    private readonly bucket: string,
    /** The store prefix, '' or ending in '/'. */
    prefix: string,
    /** The reserved tree under the prefix: records, or the digest sidecars of multipart objects (s3-digests.ts). */
    dir: string = RECORDS_DIR,
  ) {
    this.base = prefix + dir;
  }

  async create(key: string, body: Buffer): Promise<boolean> {
    const objectKey = this.physical(key);
    checkSize(body);
    const writer = randomUUID();
    for (let attempt = 1; ; attempt++) {
      try {
        await this.client.send(
          new PutObjectCommand({ Bucket: this.bucket, Key: objectKey, Body: body, IfNoneMatch: '*', ContentType: 'application/octet-stream', Metadata: { [WRITER_META]: writer } }),
        );
        return true;
      } catch (err) {
        if (httpStatus(err) === 412 || errorName(err) === 'PreconditionFailed') return this.writtenBy(objectKey, writer);
        const conflict = httpStatus(err) === 409 || errorName(err) === 'ConditionalRequestConflict';
        if (!conflict || attempt >= CONFLICT_ATTEMPTS) throw storageError(err, 'creating a record');
        await delay(25 * attempt + Math.floor(Math.random() * 25));
      }
    }
  }

  async put(key: string, body: Buffer): Promise<void> {
    const objectKey = this.physical(key);
    checkSize(body);
    try {
      await this.client.send(new PutObjectCommand({ Bucket: this.bucket, Key: objectKey, Body: body, ContentType: 'application/octet-stream' }));
    } catch (err) {
      throw storageError(err, 'writing a record');
    }
  }

  async get(key: string): Promise<Buffer | undefined> {
    const objectKey = this.physical(key);
    let out;
    try {
      out = await this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key: objectKey }));
    } catch (err) {
      if (errorName(err) === 'NoSuchKey') return undefined;
      throw storageError(err, 'reading a record');
    }
    const body: unknown = out.Body;
    if (!(body instanceof Readable)) throw new BlobgateError('storage_error', 'The S3 store answered without a readable body; see the server log.');
    return readBounded(body, out.ContentLength);
  }

  async delete(key: string): Promise<void> {
    const objectKey = this.physical(key);
    try {
      await this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: objectKey })); // S3 answers 204 for an absent key too
    } catch (err) {
      if (errorName(err) === 'NoSuchKey') return; // S3-compatible stores that say 404
      throw storageError(err, 'deleting a record');
    }
  }

  async list(prefix: string, opts: { cursor?: string; limit: number }): Promise<RecordPage> {
    // Our own cursor (records.ts), as StartAfter: S3's ContinuationToken handed back garbled is a 400 InvalidArgument.
    const after = opts.cursor ? decodeRecordCursor(opts.cursor, prefix) : undefined;
    let out;
    try {
      out = await this.client.send(
        new ListObjectsV2Command({ Bucket: this.bucket, Prefix: this.base + prefix, MaxKeys: opts.limit, ...(after !== undefined ? { StartAfter: this.base + after } : {}) }),
      );
    } catch (err) {
      throw storageError(err, 'listing records');
    }
    const keys = (out.Contents ?? [])
      .map((c) => c.Key)
      .filter((k): k is string => k !== undefined && k.startsWith(this.base))
      .map((k) => k.slice(this.base.length));
    const last = keys.at(-1);
    return out.IsTruncated && last !== undefined ? { keys, cursor: encodeRecordCursor(last) } : { keys };
  }

  /** Settles a 412: whether the object at the key is the one this create() wrote. */
  private async writtenBy(objectKey: string, writer: string): Promise<boolean> {
    try {
      const head = await this.client.send(new HeadObjectCommand({ Bucket: this.bucket, Key: objectKey }));
      return head.Metadata?.[WRITER_META] === writer;
    } catch (err) {
      if (httpStatus(err) === 404) return false; // there was one, and it has been deleted since
      throw storageError(err, 'creating a record');
    }
  }

  private physical(key: string): string {
    checkRecordKey(key);
    return this.base + key;
  }
}

/**
 * A record key is a relative path of plain segments, as the local store
 * resolves it: no empty, `.` or `..` segment, no backslash or control
 * character. Anything else could name a different record on another backend.
 */
export function checkRecordKey(key: string): void {
  if (key === '' || /[\\\u0000-\u001f\u007f]/.test(key) || key.split('/').some((s) => s === '' || s === '.' || s === '..')) {
    throw new BlobgateError('path_invalid', 'The record key must be a relative path of non-empty segments, without "." or "..", backslashes or control characters.');
  }
}

function checkSize(body: Buffer): void {
  if (body.length > RECORD_MAX_BYTES) throw new BlobgateError('storage_error', `A record of ${body.length} bytes is over the ${RECORD_MAX_BYTES}-byte limit.`);
}

/** The whole body, refusing one over RECORD_MAX_BYTES before or while reading it. */
async function readBounded(body: Readable, announced: number | undefined): Promise<Buffer> {
  const tooLarge = (): BlobgateError => new BlobgateError('storage_error', `A stored record is over the ${RECORD_MAX_BYTES}-byte limit; see the server log.`);
  if (announced !== undefined && announced > RECORD_MAX_BYTES) {
    body.destroy();
    throw tooLarge();
  }
  const chunks: Buffer[] = [];
  let size = 0;
  try {
    for await (const chunk of body) {
      size += (chunk as Buffer).length;
      if (size > RECORD_MAX_BYTES) throw tooLarge();
      chunks.push(chunk as Buffer);
    }
  } catch (err) {
    body.destroy();
    throw err instanceof BlobgateError ? err : storageError(err, 'reading a record');
  }
  return Buffer.concat(chunks, size);
}
