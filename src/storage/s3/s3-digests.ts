import { DeleteObjectCommand, HeadObjectCommand, ListMultipartUploadsCommand, ListObjectsV2Command, type S3Client } from '@aws-sdk/client-s3';
import { createHash } from 'node:crypto';
import { BlobgateError } from '../../errors.js';
import { httpStatus, storageError } from './s3-errors.js';
import { S3Records } from './s3-records.js';

/**
 * The sha256 sidecar of an S3 object written in parts (s3-write.ts,
 * docs/storage-contract.md#s3-multipart-to-the-final-key).
 *
 * A multipart object's user metadata is fixed at CreateMultipartUpload,
 * before the sha256 of its bytes is known. So such an object carries the
 * marker `bg-digest: sidecar` instead of `bg-sha256`, and its sha256 lives
 * in a small record (`{key, etag, sha256, size}`) at
 * `<prefix>.blobgate-digests/<sha256 of the key>/<ETag>`:
 *
 * - named by the object's ETag, so an overwrite never replaces the old
 *   object's sidecar (each version has its own), and a reader trusts a
 *   sidecar only for the object whose ETag, size and key it names: an object
 *   whose sidecar is missing or names something else has an unknown sha256
 *   (''), never a wrong one;
 * - created with `If-None-Match: *` (S3Records.create): one (key, ETag) gets
 *   one sidecar for ever, so a reader may cache it. A second writer meeting
 *   a sidecar for the same ETag with another sha256 (an MD5 collision) fails;
 * - under the hash of the key, not the key: a key of 1024 bytes would not fit
 *   S3's key limit with a prefix, and the hash makes the sidecars of one key
 *   one listing, never mixed with a longer key's;
 * - beside `workspaces/` and `.blobgate-records/`: no blob listing shows
 *   them, and the records' lifecycle rule (which expires records) does not
 *   touch them.
 */
export const DIGESTS_DIR = '.blobgate-digests/';

/** User metadata of a multipart object: its sha256 is in the sidecar. */
export const DIGEST_MARKER = 'bg-digest';
export const DIGEST_SIDECAR = 'sidecar';

/** Sidecars cached per process (key + ETag → sha256); a sidecar never changes once created. */
const CACHE_ENTRIES = 4096;

interface Sidecar {
  key: string;
  etag: string;
  sha256: string;
  size: number;
}

/** An ETag without its quotes. */
export function bareEtag(etag: string): string {
  return etag.replace(/^"|"$/g, '');
}

/**
 * The ETag S3 gives an object completed from parts with these MD5s, before
 * CompleteMultipartUpload: hex MD5 of the concatenated binary part MD5s, a
 * dash and the part count; each part's MD5 is its ETag on S3 without
 * SSE-KMS/SSE-C, and on fauxqs. Where that is not so, Complete answers
 * another ETag, and the write writes the sidecar after Complete.
 */
export function multipartEtag(partMd5s: readonly Buffer[]): string {
  return `${createHash('md5').update(Buffer.concat(partMd5s)).digest('hex')}-${partMd5s.length}`;
}

export class S3Digests {
  private readonly records: S3Records;
  private readonly dir: string;
  private readonly prefix: string;
  private readonly cache = new Map<string, string>();

  constructor(
    private readonly client: S3Client,
    private readonly bucket: string,
    /** The store prefix, '' or ending in '/'. */
    prefix: string,
  ) {
    this.records = new S3Records(client, bucket, prefix, DIGESTS_DIR);
    this.dir = prefix + DIGESTS_DIR;
    this.prefix = prefix;
  }

  /** Records the sha256 of the object `key` will hold with `etag`. Rejects when a sidecar for that ETag says otherwise. */
  async record(key: string, etag: string, sha256: string, size: number): Promise<void> {
    const tag = bareEtag(etag);
    const sidecar: Sidecar = { key, etag: tag, sha256, size };
    const name = sidecarName(key, tag);
    let created: boolean;
    try {
      created = await this.records.create(name, Buffer.from(JSON.stringify(sidecar)));
    } catch (err) {
      // An answer lost or garbled after S3 may have committed (seen once in 32 concurrent bench writes:
      // an unparseable error body): the sidecar is what decides.
      if (await this.holds(name, key, sha256, size).catch(() => false)) return;
      throw err;
    }
    if (created || (await this.holds(name, key, sha256, size))) return; // created now, or the same bytes were written before
    throw new BlobgateError('storage_error', 'Another object with the same ETag but other bytes was written to this key (an MD5 collision); nothing was stored.');
  }

  /** Whether the sidecar `name` says exactly this. */
  private async holds(name: string, key: string, sha256: string, size: number): Promise<boolean> {
    const there = parse(await this.records.get(name));
    return there?.key === key && there.sha256 === sha256 && there.size === size;
  }

  /** The sha256 of the object at `key` with this ETag and size, or '' when no sidecar vouches for it. */
  async lookup(key: string, etag: string | undefined, size: number): Promise<string> {
    if (etag === undefined) return '';
    const tag = bareEtag(etag);
    const name = sidecarName(key, tag);
    const cached = this.cache.get(name);
    if (cached !== undefined) return cached;
    const s = parse(await this.records.get(name));
    if (s === undefined || s.key !== key || s.etag !== tag || s.size !== size || !/^[0-9a-f]{64}$/.test(s.sha256)) return '';
    if (this.cache.size >= CACHE_ENTRIES) this.cache.delete(this.cache.keys().next().value as string);
    this.cache.set(name, s.sha256);
    return s.sha256;
  }

  /** Deletes the sidecar for `etag` unless the object at `key` now has that ETag (then it describes a live object). */
  async discardUnlessLive(key: string, objectKey: string, etag: string): Promise<void> {
    const tag = bareEtag(etag);
    if ((await this.liveEtag(objectKey)) === tag) return;
    await this.records.delete(sidecarName(key, tag));
  }

  /**
   * Deletes the sidecars of `key` last written before `before`, except the
   * one for `keep` (the live object's): those of replaced versions, and of
   * writes that failed. A sidecar written since belongs to a write that may
   * still complete, and is left. So is one of a write still running however
   * early it began — its multipart upload is in progress at the key, and a
   * write records its sidecar after creating the upload, before its Complete
   * — and the sidecar of whatever object is live by then (a write that
   * completed meanwhile). S3 gives times in whole seconds, hence the second
   * of margin. Costs a listing, and only when a sidecar is to go, a listing
   * of the key's uploads and a HEAD.
   */
  async removeStale(key: string, keep: string | undefined, before: Date): Promise<number> {
    const dir = `${this.dir}${keyHash(key)}/`;
    const keepName = keep === undefined ? undefined : `${dir}${bareEtag(keep)}`;
    let removed = 0;
    let token: string | undefined;
    try {
      const stale: Array<{ name: string; at: number }> = [];
      do {
        const out = await this.client.send(new ListObjectsV2Command({ Bucket: this.bucket, Prefix: dir, ...(token ? { ContinuationToken: token } : {}) }));
        for (const o of out.Contents ?? []) {
          if (!o.Key || o.Key === keepName || !o.LastModified || o.LastModified >= before) continue;
          stale.push({ name: o.Key, at: o.LastModified.getTime() });
        }
        token = out.IsTruncated ? out.NextContinuationToken : undefined;
      } while (token);
      if (stale.length === 0) return 0;
      const objectKey = this.prefix + key;
      const running = await this.earliestUpload(objectKey);
      const live = await this.liveEtag(objectKey);
      for (const s of stale) {
        if (live !== undefined && s.name === `${dir}${live}`) continue;
        if (running !== undefined && s.at >= running - 1000) continue;
        await this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: s.name }));
        removed++;
      }
    } catch (err) {
      throw storageError(err, 'removing the digest sidecars of replaced objects');
    }
    return removed;
  }

  /** When the earliest multipart upload in progress at exactly this physical key began (ms), or undefined when none is. */
  private async earliestUpload(objectKey: string): Promise<number | undefined> {
    let earliest: number | undefined;
    let markers: { KeyMarker?: string; UploadIdMarker?: string } = {};
    for (;;) {
      const out = await this.client.send(new ListMultipartUploadsCommand({ Bucket: this.bucket, Prefix: objectKey, ...markers }));
      for (const u of out.Uploads ?? []) {
        if (u.Key !== objectKey) continue;
        const at = u.Initiated?.getTime() ?? 0; // no time given: as early as can be
        earliest = earliest === undefined ? at : Math.min(earliest, at);
      }
      if (!out.IsTruncated || (out.NextKeyMarker === undefined && out.NextUploadIdMarker === undefined)) return earliest;
      markers = { ...(out.NextKeyMarker ? { KeyMarker: out.NextKeyMarker } : {}), ...(out.NextUploadIdMarker ? { UploadIdMarker: out.NextUploadIdMarker } : {}) };
    }
  }

  /** The bare ETag of the object at the physical key, or undefined when there is none. */
  async liveEtag(objectKey: string): Promise<string | undefined> {
    try {
      const head = await this.client.send(new HeadObjectCommand({ Bucket: this.bucket, Key: objectKey }));
      return head.ETag === undefined ? undefined : bareEtag(head.ETag);
    } catch (err) {
      if (httpStatus(err) === 404) return undefined;
      throw storageError(err, 'reading the ETag of an object');
    }
  }
}

function keyHash(key: string): string {
  return createHash('sha256').update(key).digest('hex');
}

/** The record name of a sidecar (under DIGESTS_DIR). */
export function sidecarName(key: string, etag: string): string {
  return `${keyHash(key)}/${bareEtag(etag)}`;
}

function parse(body: Buffer | undefined): Sidecar | undefined {
  if (body === undefined) return undefined;
  try {
    const v = JSON.parse(body.toString('utf8')) as Partial<Sidecar>;
    return typeof v.key === 'string' && typeof v.etag === 'string' && typeof v.sha256 === 'string' && typeof v.size === 'number' ? (v as Sidecar) : undefined;
  } catch {
    return undefined;
  }
}
