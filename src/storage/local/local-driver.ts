import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { createReadStream, createWriteStream } from 'node:fs';
import { access, constants, lstat, mkdir, open, readFile, rename, rm, rmdir, unlink, writeFile } from 'node:fs/promises';
import { dirname, join, resolve, sep } from 'node:path';
import { Readable, type Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { BlobgateError } from '../../errors.js';
import type { ByteRange, ListPage, ListRequest, ObjectMeta, ReadResult, StorageDriver, StoredObject, WriteRequest } from '../driver.js';
import { Janitor } from '../janitor.js';
import { decodeListCursor, encodeListCursor } from '../list-cursor.js';
import { ByteMeter } from '../meter.js';
import { resolveRange } from '../range.js';
import { abortError, watchBody, writeFailure } from '../write-errors.js';
import { LocalRecords } from './local-records.js';
import { sweepLocalDebris } from './local-sweep.js';
import { SmallBodySink } from './small-body.js';
import { walkKeys } from './walk.js';

/**
 * Write buffer of one local write. While the thread pool writes one batch, the
 * network keeps reading up to this much, which fs.WriteStream then hands to
 * one writev. At the 16 KiB default — less than one 64 KiB socket read — each
 * chunk waited for its own write before the next was read: 1 GiB persists ran
 * ~10% slower (`npm run measure:rss -- 1073741824`, mean of three alternating
 * runs each: 358 vs 399 MiB/s; the spread is wide, README "Benchmarks").
 */
export const SINK_BUFFER_BYTES = 1024 * 1024;

/*
 * The fsync: fs.WriteStream with `flush` leaves every dirty page to the one
 * fsync at close (below the kernel's background-writeback threshold, 10% of
 * RAM, nothing is written back earlier); here that fsync takes ~0.7 s per
 * GiB with the network idle meanwhile. Issue 18 tried starting the writeback
 * early and measured it (`npm run measure:rss -- 1073741824`, alternating
 * runs, a shared 2-core machine at load 8–12; README "Benchmarks"):
 *   - a Writable over fs.write/writev that starts an fdatasync every N MiB
 *     without waiting for it (at most one in flight; fsync at the end): in
 *     a write-only test the final fsync shrank from ~0.7 s to ≤ 0.25 s, but
 *     1 GiB persists were slower: 124–143 MiB/s mean at N = 128 (three
 *     series, 10 runs) against 149–184 for this stream in the same series;
 *     N = 32 and 512 no better (127, 130 vs 149). The same Writable with no
 *     early syncs was slower too (113 vs 175), so within this noise no gain
 *     from the early syncs could be isolated: the write is CPU-bound here
 *     (sha256, socket reads, page-cache copies on two shared cores) and the
 *     disk is not what it waits for most;
 *   - O_DSYNC (every writev waits for the disk): 150 vs ~300 MiB/s in a
 *     write-only test, reading stops while each write waits;
 *   - sync_file_range(SYNC_FILE_RANGE_WRITE) and posix_fadvise, the usual
 *     levers, are not reachable from Node without a native addon.
 * So the one fsync at close stays; the bench's same-work and dd conv=fsync
 * peers (scripts/bench/peers.ts) show where this stands.
 */

/**
 * Small writes (issue 18: 1 KiB persists) are bound by round trips to the
 * thread pool and the disk, not by bytes. A file created with O_DSYNC is as
 * durable when its one write returns as one written and then fsynced
 * (fdatasync's guarantee: the bytes and what is needed to read them back),
 * one round trip fewer. The meta file always is (one write); a body is when
 * it is known to be at most this big, so it arrives in a few chunks.
 */
export const DSYNC_MAX_BYTES = 64 * 1024;
/**
 * A body announced at most this big is kept inside its meta file: one
 * durable file per object instead of a data file and a meta file, which
 * halves a small write's file-system calls (5 instead of 9 for a new key) and
 * its syncs. Small enough that listing, which reads every meta file of a
 * page, stays cheap (a meta file of at most ~11 KiB).
 */
export const INLINE_MAX_BYTES = 8 * 1024;
const CREATE_DSYNC = constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_DSYNC;
/** fs.WriteStream hands `flags` to fs.open, which takes numeric flags too; its options type says string only. */
const CREATE_DSYNC_STREAM = CREATE_DSYNC as unknown as string;

export interface LocalDriverOptions {
  /** Directory that holds this store; created when missing. */
  root: string;
  /** Optional key prefix inside the store (several environments in one root). */
  prefix?: string;
  /**
   * Remove temp files left by a crash (default true). A second process opening
   * the same directory while a gateway runs on it (the smoke test) passes false,
   * or it would remove the gateway's in-flight writes. It also says whether
   * this process owns the directory alone, which lets the sweep remove crash
   * debris without waiting out the grace period.
   */
  cleanTmp?: boolean;
  /** Owns failed cleanups (the registry builds one per store from config). The driver closes it. Default: one with default settings. */
  janitor?: Janitor;
}

/**
 * The local store: one directory with three trees,
 *   objects/<xx>/<uuid>  the bytes of one version of an object
 *   meta/<key>           the object meta as JSON, naming its data file — or
 *                        holding the bytes themselves when they are at most
 *                        INLINE_MAX_BYTES (then there is no data file)
 *   tmp/                 in-flight writes; same filesystem, so rename is atomic
 * A write streams into tmp/, is made durable (fsync, or O_DSYNC when small)
 * and renamed into objects/ under a fresh name while its meta is written to
 * tmp/; then, under a per-key lock, its meta is renamed into meta/ —
 * the single commit point — and the previous version's data file is removed.
 * So concurrent writers of one key never mix one's bytes with another's meta,
 * and a reader that already opened the old version keeps reading it. An
 * object without meta is invisible; stale tmp files from a crash are removed
 * by open(), and a data file a crash left unreferenced under objects/ (between
 * the data rename and the meta commit) by the janitor's sweep (local-sweep.ts).
 * A file that cannot be removed when it should (the previous version's data,
 * a failed write's temp files) is the janitor's to retry.
 */
export class LocalDriver implements StorageDriver {
  readonly backend = 'local' as const;
  readonly bucket = null;
  private readonly root: string;
  private readonly prefix: string;
  /** Serialises commits and deletes per key (this process owns the directory). */
  private readonly keyLocks = new Map<string, Promise<void>>();
  /** Data ids (which also name the temp files) of the writes in flight in this process, shared by every driver of the root. */
  private readonly inFlight: Set<string>;
  private readonly exclusive: boolean;
  private sweptOnce = false;
  readonly janitor: Janitor;
  readonly records: LocalRecords;

  private constructor(opts: LocalDriverOptions) {
    this.root = resolve(opts.root);
    this.prefix = opts.prefix ? opts.prefix.replace(/\/*$/, '/') : '';
    this.exclusive = opts.cleanTmp !== false;
    this.inFlight = inFlightOf(this.root);
    this.janitor = opts.janitor ?? new Janitor({ store: this.root });
    this.records = new LocalRecords(this.root, this.prefix, this.dir('tmp'), this.inFlight);
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
    const dataId = randomUUID();
    const tmpData = join(this.dir('tmp'), `${dataId}.data`);
    const tmpMeta = join(this.dir('tmp'), `${dataId}.meta`);
    const dataPath = this.dataPath(dataId);
    const metaPath = this.path('meta', req.key);
    const meter = new ByteMeter(req.maxBytes, req.progress);
    // Durable before it is renamed: a small body is written with O_DSYNC (each write returns once on disk,
    // no fsync round trip of its own); a large one with flush (one fsync before close, Node >= 20.10),
    // since O_DSYNC would make every write of it wait for the disk (see above).
    const announced = Math.min(req.expectedSize ?? Infinity, req.maxBytes);
    const small = announced <= DSYNC_MAX_BYTES;
    const fileSink = (): Writable =>
      createWriteStream(tmpData, small ? { flags: CREATE_DSYNC_STREAM, highWaterMark: SINK_BUFFER_BYTES } : { flags: 'wx', flush: true, highWaterMark: SINK_BUFFER_BYTES });
    // A body announced tiny is held for the meta file (it spills into the data file if it grows past the limit).
    const sink = announced <= INLINE_MAX_BYTES ? new SmallBodySink(INLINE_MAX_BYTES, fileSink) : fileSink();
    const watched = watchBody(req.body, meter, sink);
    let dataPlaced = false;
    this.inFlight.add(dataId);
    try {
      await pipeline(req.body, meter, sink, { signal: req.signal });
      const meta: ObjectMeta = { ...req.meta, size: meter.bytes, sha256: meter.sha256 };
      const inline = sink instanceof SmallBodySink ? sink.inline : undefined;
      if (inline) {
        await writeFile(tmpMeta, JSON.stringify({ ...meta, inline: inline.toString('base64') } satisfies StoredMeta), { flag: CREATE_DSYNC });
      } else {
        const stored: StoredMeta = { ...meta, data: dataId };
        // The meta's write and the data's rename are independent (a crash between them leaves what the sweep
        // takes), so they run side by side; both are settled before the outcome is judged, so the cleanup
        // below knows where the data file is.
        const [metaWritten, dataRenamed] = await Promise.allSettled([
          writeFile(tmpMeta, JSON.stringify(stored), { flag: CREATE_DSYNC }),
          renameIntoDir(tmpData, dataPath),
        ]);
        dataPlaced = dataRenamed.status === 'fulfilled';
        if (dataRenamed.status === 'rejected') throw dataRenamed.reason;
        if (metaWritten.status === 'rejected') throw metaWritten.reason;
      }
      const previous = await this.withKeyLock(req.key, async () => {
        const before = await this.readStored(req.key).catch(() => undefined);
        await this.commitMeta(tmpMeta, metaPath, req.key); // the commit
        return before;
      });
      if (previous?.data !== undefined && previous.data !== dataId) await this.removeData(previous.data, `the previous data file of ${req.key}`);
      return { key: req.key, meta };
    } catch (err) {
      if (!req.body.destroyed) req.body.destroy();
      // The temp file may still be opening: wait for the stream to close before unlinking.
      if (!sink.closed) {
        sink.destroy();
        await once(sink, 'close').catch(() => undefined);
      }
      const files = [tmpData, tmpMeta, ...(dataPlaced ? [dataPath] : [])];
      await this.janitor.discard(`the files of a failed write of ${req.key}`, async () => {
        await Promise.all(files.map((f) => rm(f, { force: true })));
      });
      throw writeFailure(err, { signal: req.signal, bodyError: watched.error, what: `writing ${req.key}` });
    } finally {
      this.inFlight.delete(dataId);
      watched.dispose();
    }
  }

  async head(key: string): Promise<StoredObject> {
    return { key, meta: await this.readMeta(key) };
  }

  async read(key: string, range?: ByteRange): Promise<ReadResult> {
    const stored = await this.readStored(key);
    const meta = withoutData(stored);
    const resolved = range ? resolveRange(range, meta.size) : undefined;
    if (stored.data === undefined) {
      const bytes = Buffer.from(stored.inline ?? '', 'base64');
      if (bytes.length !== meta.size) throw new BlobgateError('storage_error', 'The local store holds a malformed meta file.');
      const part = resolved ? bytes.subarray(resolved.start, resolved.end + 1) : bytes;
      return { object: { key, meta }, ...(resolved ? { range: resolved } : {}), body: Readable.from(part.length ? [part] : []) };
    }
    let handle;
    try {
      handle = await open(this.dataPath(stored.data), 'r');
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
    const stored = await this.withKeyLock(key, async () => {
      const before = await this.readStored(key).catch(() => undefined);
      try {
        await unlink(this.path('meta', key)).catch(ignoreAbsent);
      } catch (err) {
        throw translate(err, key);
      }
      return before;
    });
    // The object is gone with its meta; its data file is the janitor's if it cannot be removed now.
    if (stored?.data !== undefined) await this.removeData(stored.data, `the data file of deleted ${key}`);
    await this.pruneEmptyDirs(key);
  }

  /**
   * Temp files, and data files no meta names, that a crash left (local-sweep.ts),
   * older than `olderThan`. The first sweep of a process that owns the
   * directory alone (`cleanTmp`, the default: open() already claimed tmp/)
   * takes them at any age: nothing but this process's own writes, which it
   * skips, can be under way then.
   */
  async sweepDebris(olderThan: Date): Promise<number> {
    const anyAge = this.exclusive && !this.sweptOnce;
    this.sweptOnce = true;
    try {
      return await sweepLocalDebris(
        { objects: this.dir('objects'), meta: this.dir('meta'), tmp: this.dir('tmp') },
        this.inFlight,
        anyAge ? Date.now() : olderThan.getTime(),
        { noWriteYet: anyAge },
      );
    } catch (err) {
      throw new BlobgateError('storage_error', 'The local store sweep failed; see the server log.', undefined, { cause: err });
    }
  }

  private async removeData(id: string, what: string): Promise<void> {
    const path = this.dataPath(id);
    await this.janitor.discard(what, () => unlink(path).catch(ignoreMissing));
  }

  async list(req: ListRequest): Promise<ListPage> {
    const items: StoredObject[] = [];
    let more = false;
    // Our own cursor (list-cursor.ts, the same on every store), checked before the walk.
    const after = req.cursor ? decodeListCursor(req.cursor, req.prefix) : undefined;
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
    return more && last ? { items, cursor: encodeListCursor(last.key) } : { items };
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
    await this.janitor.close();
    // Nothing else to release: every handle is opened and closed per call.
  }

  private async readMeta(key: string): Promise<ObjectMeta> {
    return withoutData(await this.readStored(key));
  }

  private async readStored(key: string): Promise<StoredMeta> {
    try {
      return JSON.parse(await readFile(this.path('meta', key), 'utf8')) as StoredMeta;
    } catch (err) {
      throw translate(err, key);
    }
  }

  private async withKeyLock<T>(key: string, fn: () => Promise<T>): Promise<T> {
    const previous = this.keyLocks.get(key) ?? Promise.resolve();
    const run = previous.then(fn, fn);
    const tail = run.then(
      () => undefined,
      () => undefined,
    );
    this.keyLocks.set(key, tail);
    try {
      return await run;
    } finally {
      if (this.keyLocks.get(key) === tail) this.keyLocks.delete(key);
    }
  }

  private dir(tree: 'objects' | 'meta' | 'tmp'): string {
    return join(this.root, tree);
  }

  /** Data files fan out over 256 folders so no directory grows huge. */
  private dataPath(id: string): string {
    if (!/^[0-9a-f-]{36}$/.test(id)) throw new BlobgateError('storage_error', 'The local store holds a malformed meta file.');
    return join(this.dir('objects'), id.slice(0, 2), id);
  }

  /**
   * The commit: the meta renamed to meta/<key>. This store keeps keys as
   * paths, so a key that is the folder of other keys (meta/x/a holds x/a/b)
   * or lies below another key (meta/x/a is x/a's file) cannot be written,
   * while S3 and GCS take both (docs/storage-contract.md, "Local store"). That
   * is the caller's choice of key: key_conflict (409) naming the keys, not a
   * store failure. Anything else the rename meets stays the store's.
   */
  private async commitMeta(from: string, to: string, key: string): Promise<void> {
    try {
      await renameIntoDir(from, to);
    } catch (err) {
      throw (await this.keyConflict(err, key)) ?? err;
    }
  }

  private async keyConflict(err: unknown, key: string): Promise<BlobgateError | undefined> {
    const code = (err as NodeJS.ErrnoException).code;
    const isDir = (k: string): Promise<boolean> => lstat(this.path('meta', k)).then((s) => s.isDirectory(), () => false);
    const isFile = (k: string): Promise<boolean> => lstat(this.path('meta', k)).then((s) => s.isFile(), () => false);
    const what = 'the local store keeps keys as paths (S3 and GCS do not), so a key cannot also be the folder of other keys';
    if ((code === 'EISDIR' || code === 'ENOTEMPTY' || code === 'EEXIST') && (await isDir(key))) {
      return new BlobgateError('key_conflict', `Cannot store ${key}: other objects are stored below it (${key}/…) and ${what}. Choose another path or filename, or delete the objects under ${key}/ first.`, { key, below: `${key}/` }, { cause: err });
    }
    // ENOTDIR from the rename; EEXIST from the mkdir of a missing folder when a writer of the key above
    // committed it as a file in between (a race of x/a against x/a/b).
    if (code === 'ENOTDIR' || code === 'EEXIST') {
      const segments = key.split('/');
      for (let i = 1; i < segments.length; i++) {
        const above = segments.slice(0, i).join('/');
        if (await isFile(above)) {
          return new BlobgateError('key_conflict', `Cannot store ${key}: ${above} is an object and ${what}. Choose another path or filename, or delete ${above} first.`, { key, object: above }, { cause: err });
        }
      }
    }
    return undefined;
  }

  /** The meta file of a key; refuses anything that would resolve outside the tree. */
  private path(tree: 'meta', key: string): string {
    const base = this.dir(tree);
    const full = resolve(base, ...(this.prefix + key).split('/'));
    if (!full.startsWith(base + sep)) throw new BlobgateError('path_invalid', 'The key resolves outside the store.');
    return full;
  }

  /** Removes meta directories left empty by a delete, up to the tree root. */
  private async pruneEmptyDirs(key: string): Promise<void> {
    let dir = dirname(this.path('meta', key));
    const stop = this.dir('meta');
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

const IN_FLIGHT = new Map<string, Set<string>>();

/** The in-flight set of a root: one per process, so that two stores over one directory see each other's writes. */
function inFlightOf(root: string): Set<string> {
  let set = IN_FLIGHT.get(root);
  if (!set) IN_FLIGHT.set(root, (set = new Set()));
  return set;
}

/**
 * What meta/<key> holds: the object meta plus either the name of its data
 * file or, for a body of at most INLINE_MAX_BYTES, the body itself (base64).
 */
type StoredMeta = ObjectMeta & ({ data: string; inline?: undefined } | { data?: undefined; inline: string });

function withoutData(stored: StoredMeta): ObjectMeta {
  const { data: _data, inline: _inline, ...meta } = stored;
  return meta;
}

/**
 * rename(2) into a directory that is created only when missing: a small write
 * paid for a recursive mkdir (a mkdir and a stat) twice per object while its
 * directories nearly always exist. A delete prunes meta directories it left
 * empty without the key lock of another key in them, so one can vanish
 * between the mkdir and the rename: then the mkdir runs again.
 */
async function renameIntoDir(from: string, to: string): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await rename(from, to);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT' || attempt === RENAME_ATTEMPTS) throw err;
    }
    await mkdir(dirname(to), { recursive: true });
  }
}

/** A missing source is ENOENT too: the attempts are bounded. */
const RENAME_ATTEMPTS = 4;

function ignoreMissing(err: NodeJS.ErrnoException): void {
  if (err.code !== 'ENOENT') throw err;
}

/**
 * No object at the key, for a delete: nothing there (ENOENT), a key below an
 * object (ENOTDIR) or a folder of other keys (EISDIR). A delete is idempotent,
 * as on S3 and GCS.
 */
function ignoreAbsent(err: NodeJS.ErrnoException): void {
  if (err.code !== 'ENOENT' && err.code !== 'ENOTDIR' && err.code !== 'EISDIR') throw err;
}

function translate(err: unknown, key: string): BlobgateError {
  if (err instanceof BlobgateError) return err;
  const code = (err as NodeJS.ErrnoException).code;
  if (code === 'ENOENT' || code === 'ENOTDIR' || code === 'EISDIR') {
    return new BlobgateError('not_found', `No object at ${key}.`, undefined, { cause: err });
  }
  return new BlobgateError('storage_error', 'The local store failed; see the server log.', undefined, { cause: err });
}
