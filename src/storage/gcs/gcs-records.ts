import type { Bucket, File } from '@google-cloud/storage';
import { randomUUID } from 'node:crypto';
import type { Readable } from 'node:stream';
import { BlobgateError } from '../../errors.js';
import { decodeRecordCursor, encodeRecordCursor, RECORD_MAX_BYTES, RECORDS_DIR, type RecordPage, type RecordStore } from '../records.js';
import { gcsStatus, isBucketMissing, storageError } from './gcs-errors.js';
import { listNamesAfter } from './gcs-list.js';

/**
 * Custom metadata naming the create() call that wrote an object: a fresh id
 * per call, never part of the record's body.
 */
export const WRITER_META = 'blobgate-record-writer';

/**
 * Records of a GCS store (src/storage/records.ts) at
 * `<store prefix>.blobgate-records/<logical key>`, beside the `workspaces/`
 * blob tree. Each record is one small object written whole in one request
 * (`save` with `resumable: false`: a multipart upload), so a reader sees one
 * generation or the next, never a part.
 *
 * create() sends `ifGenerationMatch: 0`: GCS commits it only when no live
 * object has the name, atomically against every other writer, and answers
 * 412 otherwise. The client retries a save whose answer was lost — a 5xx or
 * a reset after GCS committed — and the retry then meets our own object:
 * 412. (@google-cloud/storage 7.22 file.js `save`: the upload runs inside
 * async-retry with `retryOptions.maxRetries` whenever
 * `shouldRetryBasedOnPreconditionAndIdempotencyStrat` holds, which an
 * `ifGenerationMatch` makes true under the default RetryConditional, and
 * which is always true under blobgate's RetryAlways, client.ts.) Turning retries off for create would
 * trade that for failing on every dropped keep-alive socket, and comparing
 * bodies cannot tell our write from another writer's of the same bytes. So
 * every create writes a fresh writer id in custom metadata, and a 412 is
 * settled by reading the object's metadata: our id → this call created it
 * (true); another id or none → another writer won (false); no object → one
 * was there and has been deleted since (false). A put() replaces the whole
 * object, metadata included, so an id never outlives the body it came with.
 *
 * Errors: `storage_error` (SDK error as cause, no backend text, no record key
 * in the message: keys can hold share tokens); `path_invalid` for a key that
 * is not a plain relative path.
 */
export class GcsRecords implements RecordStore {
  private readonly base: string;

  constructor(
    private readonly bucket: Bucket,
    /** The store prefix, '' or ending in '/'. */
    prefix: string,
  ) {
    this.base = prefix + RECORDS_DIR;
  }

  async create(key: string, body: Buffer): Promise<boolean> {
    const file = this.file(key);
    checkSize(body);
    const writer = randomUUID();
    try {
      await file.save(body, {
        resumable: false,
        validation: 'crc32c',
        contentType: 'application/octet-stream',
        metadata: { metadata: { [WRITER_META]: writer } },
        preconditionOpts: { ifGenerationMatch: 0 },
      });
      return true;
    } catch (err) {
      if (gcsStatus(err) !== 412) throw storageError(err, 'creating a record');
    }
    return this.writtenBy(file, writer);
  }

  async put(key: string, body: Buffer): Promise<void> {
    const file = this.file(key);
    checkSize(body);
    try {
      await file.save(body, { resumable: false, validation: 'crc32c', contentType: 'application/octet-stream' });
    } catch (err) {
      throw storageError(err, 'writing a record');
    }
  }

  async get(key: string): Promise<Buffer | undefined> {
    const file = this.file(key);
    try {
      return await readBounded(file.createReadStream({ validation: 'crc32c' }));
    } catch (err) {
      if (err instanceof BlobgateError) throw err;
      if (gcsStatus(err) === 404 && !isBucketMissing(err)) return undefined;
      throw storageError(err, 'reading a record');
    }
  }

  async delete(key: string): Promise<void> {
    const file = this.file(key);
    try {
      await file.delete();
    } catch (err) {
      if (gcsStatus(err) === 404 && !isBucketMissing(err)) return; // already absent
      throw storageError(err, 'deleting a record');
    }
  }

  async list(prefix: string, opts: { cursor?: string; limit: number }): Promise<RecordPage> {
    // Our own cursor (records.ts), checked before any call; GCS page tokens stay inside gcs-list.ts.
    const after = opts.cursor ? this.base + decodeRecordCursor(opts.cursor, prefix) : undefined;
    const { files, more } = await listNamesAfter(this.bucket, { prefix: this.base + prefix, ...(after !== undefined ? { after } : {}), limit: opts.limit, what: 'listing records' });
    const keys = files.map((f) => f.name.slice(this.base.length));
    return more ? { keys, cursor: encodeRecordCursor(keys.at(-1) as string) } : { keys };
  }

  /** Settles a 412: whether the live object is the one this create() wrote. */
  private async writtenBy(file: File, writer: string): Promise<boolean> {
    try {
      const [md] = await file.getMetadata();
      return md.metadata?.[WRITER_META] === writer;
    } catch (err) {
      if (gcsStatus(err) === 404 && !isBucketMissing(err)) return false; // there was one, and it has been deleted since
      throw storageError(err, 'creating a record');
    }
  }

  private file(key: string): File {
    checkRecordKey(key);
    return this.bucket.file(this.base + key);
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

/** The whole download, refusing one over RECORD_MAX_BYTES while reading it. */
async function readBounded(body: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  try {
    for await (const chunk of body) {
      size += (chunk as Buffer).length;
      if (size > RECORD_MAX_BYTES) throw new BlobgateError('storage_error', `A stored record is over the ${RECORD_MAX_BYTES}-byte limit; see the server log.`);
      chunks.push(chunk as Buffer);
    }
  } finally {
    body.destroy();
  }
  return Buffer.concat(chunks, size);
}
