import { randomUUID } from 'node:crypto';
import { link, mkdir, readFile, rename, rm, rmdir, unlink, writeFile } from 'node:fs/promises';
import { dirname, join, resolve, sep } from 'node:path';
import { BlobgateError } from '../../errors.js';
import { decodeRecordCursor, encodeRecordCursor, RECORD_MAX_BYTES, type RecordPage, type RecordStore } from '../records.js';
import { walkKeys } from './walk.js';

/**
 * Records of a local store (src/storage/records.ts) under `<root>/records/`,
 * beside the object trees. Every write goes to a complete, fsynced temp file
 * in `<root>/tmp/` first (registered in flight, so the debris sweep leaves it
 * alone); `put` renames it over the record, `create` links it to the record's
 * name, which fails with EEXIST when one is there — exclusive across
 * processes on one file system, and never a half-written record.
 */
export class LocalRecords implements RecordStore {
  private readonly base: string;

  constructor(
    root: string,
    private readonly prefix: string,
    private readonly tmpDir: string,
    private readonly inFlight: Set<string>,
  ) {
    this.base = join(resolve(root), 'records');
  }

  async create(key: string, body: Buffer): Promise<boolean> {
    return this.viaTemp(key, body, async (tmp, target) => {
      try {
        await link(tmp, target);
        return true;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false;
        throw err;
      }
    });
  }

  async put(key: string, body: Buffer): Promise<void> {
    await this.viaTemp(key, body, async (tmp, target) => {
      await rename(tmp, target);
      return true;
    });
  }

  async get(key: string): Promise<Buffer | undefined> {
    try {
      return await readFile(this.path(key));
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOENT' || code === 'ENOTDIR') return undefined;
      throw failed(err);
    }
  }

  async delete(key: string): Promise<void> {
    const path = this.path(key);
    try {
      await unlink(path);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code !== 'ENOENT' && code !== 'ENOTDIR') throw failed(err);
    }
    // Empty folders go with their last record, so a workspace's tree does not grow for ever.
    for (let dir = dirname(path); dir.startsWith(this.base + sep); dir = dirname(dir)) {
      if (!(await rmdir(dir).then(() => true, () => false))) break;
    }
  }

  async list(prefix: string, opts: { cursor?: string; limit: number }): Promise<RecordPage> {
    const keys: string[] = [];
    const after = opts.cursor ? this.prefix + decodeRecordCursor(opts.cursor, prefix) : undefined;
    try {
      for await (const physical of walkKeys(this.base, this.prefix + prefix, after)) {
        if (keys.length === opts.limit) {
          return { keys, cursor: encodeRecordCursor(keys.at(-1) as string) };
        }
        keys.push(physical.slice(this.prefix.length));
      }
    } catch (err) {
      throw failed(err);
    }
    return { keys };
  }

  private async viaTemp(key: string, body: Buffer, place: (tmp: string, target: string) => Promise<boolean>): Promise<boolean> {
    if (body.length > RECORD_MAX_BYTES) throw new BlobgateError('storage_error', `A record of ${body.length} bytes is over the ${RECORD_MAX_BYTES}-byte limit.`);
    const target = this.path(key);
    const id = randomUUID();
    const tmp = join(this.tmpDir, `${id}.record`);
    this.inFlight.add(id);
    try {
      await writeFile(tmp, body, { flag: 'wx', flush: true });
      await mkdir(dirname(target), { recursive: true });
      return await place(tmp, target);
    } catch (err) {
      throw failed(err);
    } finally {
      await rm(tmp, { force: true }).catch(() => undefined);
      this.inFlight.delete(id);
    }
  }

  /** The file of a record key; refuses anything that would resolve outside the tree. */
  private path(key: string): string {
    // A "." or ".." segment (or an empty one) would resolve to another record's file, or another prefix's;
    // a backslash or control character is refused as on S3 and GCS, so one key means one record everywhere.
    if (/[\\\u0000-\u001f\u007f]/.test(key) || key.split('/').some((s) => s === '' || s === '.' || s === '..')) throw new BlobgateError('path_invalid', 'The record key must be a relative path of non-empty segments, without "." or "..", backslashes or control characters.');
    const full = resolve(this.base, ...(this.prefix + key).split('/'));
    if (!full.startsWith(this.base + sep)) throw new BlobgateError('path_invalid', 'The record key resolves outside the store.');
    return full;
  }
}

function failed(err: unknown): BlobgateError {
  if (err instanceof BlobgateError) return err;
  return new BlobgateError('storage_error', 'The local store failed to keep a record; see the server log.', undefined, { cause: err });
}
