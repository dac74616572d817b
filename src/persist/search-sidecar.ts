import { createHash, randomBytes } from 'node:crypto';
import { BlobgateError } from '../errors.js';
import type { SearchIndex, StorageDriver, StoredObject } from '../storage/driver.js';
import type { RecordStore } from '../storage/records.js';

/**
 * Search-index sidecars: an index too large for object meta
 * (src/persist/search-index.ts) is kept as a record of the blob's own store
 * (src/storage/records.ts), one per write:
 *
 *   search-index/<ws>/<sha256 of the blob key>/<write id>.json
 *
 * The blob key is hashed because a key may be 1,024 bytes, S3's whole limit;
 * the body names the key in full. The tree sits beside `workspaces/` and
 * `shares/` in the records, never under them: the job sweep reads every
 * record under `workspaces/`, and the share sweep every one under `shares/`.
 *
 * Consistency — a reader must never pair a blob with another write's index.
 * The index is known when a write starts, so:
 *   1. the write takes a fresh write id and puts its sidecar BEFORE the blob
 *      is published, then publishes the blob with `searchIndexId` (the write
 *      id, a few bytes) in its meta;
 *   2. a reader trusts only the sidecar the blob's meta names, and only if
 *      the body names the same key and write id: a sidecar of a write that
 *      failed, was overwritten or is still running is never read;
 *   3. a write that fails discards its sidecar (the store's janitor retries
 *      while the store is down); one that succeeds deletes the sidecar of
 *      the write it replaced — the one the blob's meta named when it began,
 *      which can never be published again, whereas deleting "every other
 *      sidecar of the key" could remove that of a concurrent write that is
 *      about to win;
 *   4. deleting a blob deletes the sidecar its meta names; an ephemeral
 *      sidecar carries its blob's expires-at;
 *   5. what a crash (or an overwrite by a write without a sidecar) leaves —
 *      a sidecar whose blob is gone, expired or names another write id — is
 *      removed by sweepSidecars once older than the janitor's grace.
 * A write whose store answer is lost may be published and still discard its
 * sidecar: the blob then names a sidecar that is absent, and is found by its
 * metadata and path only — less than it asked for, never another's index.
 */
export const SIDECARS_PREFIX = 'search-index/';
const VERSION = 1;

/**
 * The sweep rewrites a trusted sidecar this long after it was written (or
 * last rewritten). A store with `install-lifecycle` expires every record at
 * an age of recordsBackstopDays (src/storage/lifecycle.ts, at least 91 days),
 * a backstop for records that carry their own expiry; a sidecar lives as long
 * as its blob, so it is made young again well before that.
 */
export const REFRESH_AFTER_MS = 30 * 86_400_000;

/** A fresh write id: its start time (milliseconds, base 36, fixed width), so a sweep reads its age from the name, then 96 random bits. */
export function newWriteId(now = Date.now()): string {
  return `${now.toString(36).padStart(9, '0')}-${randomBytes(12).toString('hex')}`;
}

const WRITE_ID = /^([0-9a-z]{9})-[0-9a-f]{24}$/;

function writeIdTime(id: string): number | undefined {
  const m = WRITE_ID.exec(id);
  return m ? parseInt(m[1]!, 36) : undefined;
}

/** The records folder of one blob key's sidecars. */
export function sidecarDir(blobKey: string): string {
  const ws = blobKey.split('/')[1];
  if (!blobKey.startsWith('workspaces/') || !ws) throw new BlobgateError('internal', 'A key outside every workspace reached the search-index sidecars.');
  return `${SIDECARS_PREFIX}${ws}/${createHash('sha256').update(blobKey).digest('hex')}/`;
}

export function sidecarKey(blobKey: string, writeId: string): string {
  if (!WRITE_ID.test(writeId)) throw new BlobgateError('internal', 'A malformed write id reached the search-index sidecars.');
  return `${sidecarDir(blobKey)}${writeId}.json`;
}

interface SidecarBody {
  version: number;
  key: string;
  'write-id': string;
  'created-at': string;
  /** When the sweep last rewrote it (REFRESH_AFTER_MS). */
  'refreshed-at'?: string;
  'expires-at'?: string;
  index: { text?: string; tags?: string[]; 'source-label'?: string; 'include-raw-content?'?: boolean; 'raw-text'?: string };
}

function encode(blobKey: string, writeId: string, index: SearchIndex, expiresAt: string | undefined): Buffer {
  const body: SidecarBody = {
    version: VERSION,
    key: blobKey,
    'write-id': writeId,
    'created-at': new Date(writeIdTime(writeId) ?? Date.now()).toISOString(),
    ...(expiresAt !== undefined ? { 'expires-at': expiresAt } : {}),
    index: {
      ...(index.text !== undefined ? { text: index.text } : {}),
      ...(index.tags !== undefined ? { tags: index.tags } : {}),
      ...(index.sourceLabel !== undefined ? { 'source-label': index.sourceLabel } : {}),
      ...(index.includeRawContent !== undefined ? { 'include-raw-content?': index.includeRawContent } : {}),
      ...(index.rawText !== undefined ? { 'raw-text': index.rawText } : {}),
    },
  };
  return Buffer.from(JSON.stringify(body), 'utf8');
}

function decode(body: Buffer): SidecarBody | undefined {
  try {
    const b = JSON.parse(body.toString('utf8')) as SidecarBody;
    const ok = b !== null && typeof b === 'object' && b.version === VERSION && typeof b.key === 'string' && typeof b['write-id'] === 'string' && b.index !== null && typeof b.index === 'object';
    return ok ? b : undefined;
  } catch {
    return undefined;
  }
}

function toIndex(b: SidecarBody): SearchIndex {
  const i = b.index;
  const str = (v: unknown): v is string => typeof v === 'string';
  return {
    ...(str(i.text) ? { text: i.text } : {}),
    ...(Array.isArray(i.tags) ? { tags: i.tags.filter(str) } : {}),
    ...(str(i['source-label']) ? { sourceLabel: i['source-label'] } : {}),
    ...(typeof i['include-raw-content?'] === 'boolean' ? { includeRawContent: i['include-raw-content?'] } : {}),
    ...(str(i['raw-text']) ? { rawText: i['raw-text'] } : {}),
  };
}

function recordsOf(driver: StorageDriver): RecordStore {
  if (!driver.records) throw new BlobgateError('invalid_request', 'This store keeps no records, so it cannot keep a search index larger than object metadata holds; shorten search-index.', { field: 'search-index' });
  return driver.records;
}

/** One write's sidecar, put before its blob is published. */
export interface PendingSidecar {
  writeId: string;
  /** The write failed: remove the sidecar (the janitor retries while the store is down). */
  discard(): Promise<void>;
  /** The blob is published: remove the sidecar of the write it replaced, if any (best effort; the sweep is the backstop). */
  published(): Promise<void>;
}

/**
 * Puts the sidecar of a write about to start and learns, in parallel, which
 * sidecar the blob now at the key names (the write this one will replace).
 */
export async function putSidecar(driver: StorageDriver, blobKey: string, index: SearchIndex, expiresAt: string | undefined): Promise<PendingSidecar> {
  const records = recordsOf(driver);
  const writeId = newWriteId();
  const key = sidecarKey(blobKey, writeId);
  const [, previous] = await Promise.all([
    records.put(key, encode(blobKey, writeId, index, expiresAt)),
    driver.head(blobKey).then(
      (obj) => obj.meta.searchIndexId,
      () => undefined, // absent, or unknown: an old sidecar left by this is the sweep's
    ),
  ]);
  return {
    writeId,
    discard: () => discard(driver, records, key),
    published: async () => {
      if (previous !== undefined && previous !== writeId && WRITE_ID.test(previous)) await discard(driver, records, sidecarKey(blobKey, previous));
    },
  };
}

function discard(driver: StorageDriver, records: RecordStore, key: string): Promise<void> {
  const run = (): Promise<void> => records.delete(key);
  return driver.janitor ? driver.janitor.discard('search-index sidecar', run) : run().catch(() => undefined);
}

/** The object's search index: inline in its meta, or the sidecar its meta names (undefined when that is absent or is not this write's). */
export async function resolveSearchIndex(driver: StorageDriver, obj: StoredObject): Promise<SearchIndex | undefined> {
  const id = obj.meta.searchIndexId;
  if (id === undefined) return obj.meta.searchIndex;
  if (!driver.records || !WRITE_ID.test(id)) return undefined;
  const body = await driver.records.get(sidecarKey(obj.key, id));
  const b = body && decode(body);
  return b && b.key === obj.key && b['write-id'] === id ? toIndex(b) : undefined;
}

/** The object with its index resolved into meta (what a descriptor shows). */
export async function withSearchIndex(driver: StorageDriver, obj: StoredObject): Promise<StoredObject> {
  if (obj.meta.searchIndexId === undefined) return obj;
  const index = await resolveSearchIndex(driver, obj);
  return { ...obj, meta: { ...obj.meta, ...(index ? { searchIndex: index } : {}) } };
}

/** After a blob was deleted: removes the sidecar its meta named. */
export async function deleteSidecarOf(driver: StorageDriver, obj: StoredObject): Promise<void> {
  const id = obj.meta.searchIndexId;
  if (id === undefined || !driver.records || !WRITE_ID.test(id)) return;
  await discard(driver, driver.records, sidecarKey(obj.key, id));
}

/**
 * Removes sidecars no blob trusts — its blob is gone or expired, names
 * another write id (or none), or the record is unreadable — among those whose
 * write began before `olderThan` (the janitor's grace keeps it off writes
 * still running), and rewrites live ones due a refresh. Costs one listing per
 * 1,000 sidecars, plus a GET of the sidecar and a HEAD of its blob for each
 * one past the grace (and a PUT per refresh, once in REFRESH_AFTER_MS).
 * Resolves with how many it removed.
 */
export async function sweepSidecars(driver: StorageDriver, olderThan: Date, now = Date.now()): Promise<number> {
  const records = driver.records;
  if (!records) return 0;
  let removed = 0;
  let cursor: string | undefined;
  do {
    const page = await records.list(SIDECARS_PREFIX, { limit: 1000, ...(cursor ? { cursor } : {}) });
    for (const key of page.keys) {
      const writeId = key.split('/').at(-1)!.replace(/\.json$/, '');
      const started = writeIdTime(writeId);
      // A start in the future (a clock far off, a made-up name) gives no age to wait for: it is checked now.
      if (started !== undefined && started >= olderThan.getTime() && started <= now + 86_400_000) continue;
      const verdict = await check(driver, records, key, writeId, now);
      if (verdict === 'remove') {
        await records.delete(key);
        removed++;
      } else if (typeof verdict === 'object') {
        await records.put(key, Buffer.from(JSON.stringify({ ...verdict, 'refreshed-at': new Date(now).toISOString() }), 'utf8'));
      }
    }
    cursor = page.cursor;
  } while (cursor);
  return removed;
}

/** What the sweep does with one sidecar: keep it, remove it, or rewrite it (the body to refresh). */
async function check(driver: StorageDriver, records: RecordStore, key: string, writeId: string, now: number): Promise<'keep' | 'remove' | SidecarBody> {
  if (!WRITE_ID.test(writeId)) return 'remove';
  const body = await records.get(key);
  if (body === undefined) return 'keep'; // gone already
  const b = decode(body);
  if (!b || b['write-id'] !== writeId || !b.key.startsWith('workspaces/') || key !== sidecarKey(b.key, writeId)) return 'remove';
  if (b['expires-at'] !== undefined && Date.parse(b['expires-at']) <= now) return 'remove';
  let obj: StoredObject;
  try {
    obj = await driver.head(b.key);
  } catch (err) {
    if (err instanceof BlobgateError && err.code === 'not_found') return 'remove';
    throw err;
  }
  if (obj.meta.searchIndexId !== writeId || (obj.meta.expiresAt !== undefined && Date.parse(obj.meta.expiresAt) <= now)) return 'remove';
  const written = Date.parse(b['refreshed-at'] ?? b['created-at']);
  return Number.isNaN(written) || now - written >= REFRESH_AFTER_MS ? b : 'keep';
}
