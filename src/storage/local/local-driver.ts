import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { createReadStream, createWriteStream } from 'node:fs';
import { access, constants, mkdir, open, readFile, rename, rm, rmdir, unlink, writeFile } from 'node:fs/promises';
import { dirname, join, resolve, sep } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { BlobgateError } from '../../errors.js';
import type { ByteRange, ListPage, ListRequest, ObjectMeta, ReadResult, StorageDriver, StoredObject, WriteRequest } from '../driver.js';
import { ByteMeter } from '../meter.js';
import { resolveRange } from '../range.js';
import { abortError, watchBody, writeFailure } from '../write-errors.js';
import { walkKeys } from './walk.js';

export interface LocalDriverOptions {
  /** Directory that holds this store; created when missing. */
  root: string;
  /** Optional key prefix inside the store (several environments in one root). */
  prefix?: string;
  /**
   * Remove temp files left by a crash (default true). A second process opening
   * the same directory while a gateway runs on it (the smoke test) passes false,
   * or it would remove the gateway's in-flight writes.
   */
  cleanTmp?: boolean;
}

/**
 * The local store: one directory with three trees,
 *   objects/<key>   the bytes
 *   meta/<key>      the object meta as JSON (same relative path, own tree, so
 *                   no key can collide with a meta file name)
 *   tmp/            in-flight writes; same filesystem, so rename is atomic
 * A write goes to tmp/, is fsynced, then renamed into objects/ and its meta
 * into meta/. An object without meta is invisible (head/read say not_found,
 * list skips it), so a crash between the two renames never shows a half
 * object. Stale tmp files from a crash are removed by open().
 */
export class LocalDriver implements StorageDriver {
  readonly backend = 'local' as const;
  readonly bucket = null;
  private readonly root: string;
  private readonly prefix: string;

  private constructor(opts: LocalDriverOptions) {
    this.root = resolve(opts.root);
    this.prefix = opts.prefix ? opts.prefix.replace(/\/*$/, '/') : '';
  }

  static async open(opts: LocalDriverOptions): Promise<LocalDriver> {
    const driver = new LocalDriver(opts);
    await mkdir(driver.dir('objects'), { recursive: true });
    await mkdir(driver.dir('meta'), { recursive: true });
    if (opts.cleanTmp !== false) await rm(driver.dir('tmp'), { recursive: true, force: true });
    await mkdir(driver.dir('tmp'), { recursive: true });
    return driver;
  }

  async write(req: WriteRequest): Promise<StoredObject> {
    if (req.signal.aborted) {
      req.body.destroy();
      throw abortError(req.signal);
    }
    const tmpData = join(this.dir('tmp'), `${randomUUID()}.data`);
    const tmpMeta = join(this.dir('tmp'), `${randomUUID()}.meta`);
    const dataPath = this.path('objects', req.key);
    const metaPath = this.path('meta', req.key);
    const meter = new ByteMeter(req.maxBytes);
    // flush: fsync before close, so a renamed object is durable (Node >= 20.10).
    const sink = createWriteStream(tmpData, { flags: 'wx', flush: true });
    const watched = watchBody(req.body, meter, sink);
    try {
      await pipeline(req.body, meter, sink, { signal: req.signal });
      const meta: ObjectMeta = { ...req.meta, size: meter.bytes, sha256: meter.sha256 };
      await writeFile(tmpMeta, JSON.stringify(meta), { flag: 'wx', flush: true });
      await mkdir(dirname(dataPath), { recursive: true });
      await mkdir(dirname(metaPath), { recursive: true });
      // Bytes first, meta last: the object becomes visible when its meta lands.
      await rename(tmpData, dataPath);
      await rename(tmpMeta, metaPath);
      return { key: req.key, meta };
    } catch (err) {
      if (!req.body.destroyed) req.body.destroy();
      // The temp file may still be opening: wait for the stream to close before unlinking.
      if (!sink.closed) {
        sink.destroy();
        await once(sink, 'close').catch(() => undefined);
      }
      await Promise.all([rm(tmpData, { force: true }), rm(tmpMeta, { force: true })]);
      throw writeFailure(err, { signal: req.signal, bodyError: watched.error, what: `writing ${req.key}` });
    } finally {
      watched.dispose();
    }
  }

  async head(key: string): Promise<StoredObject> {
    return { key, meta: await this.readMeta(key) };
  }

  async read(key: string, range?: ByteRange): Promise<ReadResult> {
    const meta = await this.readMeta(key);
    const resolved = range ? resolveRange(range, meta.size) : undefined;
    let handle;
    try {
      handle = await open(this.path('objects', key), 'r');
    } catch (err) {
      throw translate(err, key);
    }
    if (meta.size === 0) {
      // createReadStream cannot express an empty range; an empty object reads as an empty stream.
      await handle.close();
      return { object: { key, meta }, body: Readable.from([]) };
    }
    const body = createReadStream('', { fd: handle, start: resolved?.start ?? 0, end: resolved?.end ?? meta.size - 1 });
    return { object: { key, meta }, ...(resolved ? { range: resolved } : {}), body };
  }

  async delete(key: string): Promise<void> {
    try {
      await unlink(this.path('meta', key)).catch(ignoreMissing);
      await unlink(this.path('objects', key)).catch(ignoreMissing);
    } catch (err) {
      throw translate(err, key);
    }
    await this.pruneEmptyDirs(key);
  }

  async list(req: ListRequest): Promise<ListPage> {
    const items: StoredObject[] = [];
    let more = false;
    const after = req.cursor ? decodeCursor(req.cursor) : undefined;
    const physicalPrefix = this.prefix + req.prefix;
    for await (const physicalKey of walkKeys(this.dir('meta'), physicalPrefix, after === undefined ? undefined : this.prefix + after)) {
      if (items.length === req.limit) {
        more = true;
        break;
      }
      const key = physicalKey.slice(this.prefix.length);
      try {
        items.push({ key, meta: await this.readMeta(key) });
      } catch (err) {
        if (err instanceof BlobgateError && err.code === 'not_found') continue; // deleted while listing
        throw err;
      }
    }
    const last = items.at(-1);
    return more && last ? { items, cursor: encodeCursor(last.key) } : { items };
  }

  async sweepExpired(now: number): Promise<number> {
    let removed = 0;
    for await (const physicalKey of walkKeys(this.dir('meta'), this.prefix)) {
      const key = physicalKey.slice(this.prefix.length);
      try {
        const meta = await this.readMeta(key);
        if (meta.expiresAt !== undefined && Date.parse(meta.expiresAt) <= now) {
          await this.delete(key);
          removed++;
        }
      } catch {
        // deleted meanwhile, or unreadable: the next sweep looks again
      }
    }
    return removed;
  }

  async ping(): Promise<void> {
    try {
      await access(this.dir('tmp'), constants.W_OK);
    } catch (err) {
      throw new BlobgateError('storage_error', 'The local store directory is not writable.', undefined, { cause: err });
    }
  }

  async close(): Promise<void> {
    // Nothing to release: every handle is opened and closed per call.
  }

  private async readMeta(key: string): Promise<ObjectMeta> {
    try {
      return JSON.parse(await readFile(this.path('meta', key), 'utf8')) as ObjectMeta;
    } catch (err) {
      throw translate(err, key);
    }
  }

  private dir(tree: 'objects' | 'meta' | 'tmp'): string {
    return join(this.root, tree);
  }

  /** The file of a key in a tree; refuses anything that would resolve outside the tree. */
  private path(tree: 'objects' | 'meta', key: string): string {
    const base = this.dir(tree);
    const full = resolve(base, ...(this.prefix + key).split('/'));
    if (!full.startsWith(base + sep)) throw new BlobgateError('path_invalid', 'The key resolves outside the store.');
    return full;
  }

  /** Removes directories left empty by a delete, up to the tree roots. */
  private async pruneEmptyDirs(key: string): Promise<void> {
    for (const tree of ['objects', 'meta'] as const) {
      let dir = dirname(this.path(tree, key));
      const stop = this.dir(tree);
      while (dir.startsWith(stop + sep)) {
        try {
          await rmdir(dir);
        } catch {
          break; // not empty (or already gone): stop climbing
        }
        dir = dirname(dir);
      }
    }
  }
}

function ignoreMissing(err: NodeJS.ErrnoException): void {
  if (err.code !== 'ENOENT') throw err;
}

function translate(err: unknown, key: string): BlobgateError {
  if (err instanceof BlobgateError) return err;
  const code = (err as NodeJS.ErrnoException).code;
  if (code === 'ENOENT' || code === 'ENOTDIR' || code === 'EISDIR') {
    return new BlobgateError('not_found', `No object at ${key}.`, undefined, { cause: err });
  }
  return new BlobgateError('storage_error', 'The local store failed; see the server log.', undefined, { cause: err });
}

function encodeCursor(key: string): string {
  return Buffer.from(key, 'utf8').toString('base64url');
}

function decodeCursor(cursor: string): string {
  return Buffer.from(cursor, 'base64url').toString('utf8');
}
