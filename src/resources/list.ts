import { BlobgateError } from '../errors.js';
import { checkSegments } from '../persist/keys.js';
import { toResourceRef, type ResourceRef } from '../refs/resource-ref.js';
import { workspacePrefix } from '../refs/resource-uri.js';
import pLimit from 'p-limit';
import { resolveSearchIndex } from '../persist/search-sidecar.js';
import type { SearchIndex, StorageDriver, StoredObject } from '../storage/driver.js';
import { badCursor } from '../storage/list-cursor.js';
import type { StoreRegistry } from '../storage/registry.js';
import { isExpired } from './locate.js';

/** The filters of a listing, named as the query parameters of GET /v1/workspaces/:ws/resources. */
export interface ListQuery {
  q?: string;
  types?: string;
  'path-prefix'?: string;
  'storage-root'?: string;
  'storage-backend'?: 'local' | 's3' | 'gcs';
  tier?: 'retained' | 'ephemeral';
  limit?: string;
  cursor?: string;
}

export type ListItem = ResourceRef & {
  path: string;
  'storage-backend': string;
  'storage-root': string | null;
  'path-under-root': string;
  'display-name': string;
  tier: string;
  size: number;
  'content-type': string;
  'created-at': string;
};

export interface ListPage {
  items: ListItem[];
  cursor?: string;
}

/** Bounds the backend calls one list request makes when filters thin out pages. */
const MAX_BACKEND_CALLS = 10;
/**
 * Bounds the search-index sidecars one search request reads (src/persist/search-sidecar.ts),
 * and how many at once: a `q` search lists at most this many objects per backend call, so a
 * page can never need more reads than are left, and stops with a cursor when they are spent.
 */
export const SEARCH_SIDECAR_READS = 256;
const SIDECAR_READ_CONCURRENCY = 8;

/**
 * Lists a workspace's blobs across every configured store, in store order and
 * key order within a store. `storage-root` narrows to a slot root and
 * `path-prefix` is then relative to it (docs/seed-contract.md#listing-filters);
 * without a root, path-prefix is relative to the workspace (e.g.
 * `persist/daily`). Expired blobs are skipped. The caller has checked that
 * the workspace may be listed.
 */
export async function listResources(registry: StoreRegistry, ws: string, q: ListQuery): Promise<ListPage> {
  const limit = Math.min(Number(q.limit ?? 100), 1000);
  const prefix = listPrefix(ws, q);
  const keep = itemFilter(q);
  const needle = q.q?.toLowerCase();
  let sidecarReads = needle === undefined ? Infinity : SEARCH_SIDECAR_READS;
  const stores = registry.entries().filter(([, d]) => q['storage-backend'] === undefined || d.backend === q['storage-backend']);
  let position = q.cursor ? decodeCursor(q.cursor, stores.length) : { s: 0 };
  const items: ListItem[] = [];
  // Only file resources exist in blobgate: a query for other types is answered without a scan.
  if (!wantedTypes(q).includes('file')) return { items };
  for (let calls = 0; calls < MAX_BACKEND_CALLS && position.s < stores.length && items.length < limit && sidecarReads > 0; calls++) {
    const [name, driver] = stores[position.s]!;
    const page = await driver.list({ prefix, limit: Math.min(limit - items.length, sidecarReads), ...(position.c ? { cursor: position.c } : {}) });
    const kept = page.items.filter(keep);
    const found = needle === undefined ? kept.map(() => true) : await searchPage(driver, kept, needle, () => sidecarReads--);
    kept.forEach((obj, i) => found[i] && items.push(toListItem(ws, name, driver, obj)));
    position = page.cursor ? { s: position.s, c: page.cursor } : { s: position.s + 1 };
  }
  return { items, ...(position.s < stores.length ? { cursor: encodeCursor(position) } : {}) };
}

function wantedTypes(q: ListQuery): string[] {
  const types = (q.types ?? 'file').split(',').map((t) => t.trim());
  const unknownType = types.find((t) => t !== 'file' && t !== 'result');
  if (unknownType !== undefined) throw new BlobgateError('invalid_request', `types: "${unknownType}" is not a resource type (file, result).`, { field: 'types' });
  return types;
}

/** The filters a listed object must pass before the `q` search: tier, slot root, not expired. */
function itemFilter(q: ListQuery): (obj: StoredObject) => boolean {
  const root = q['storage-root']?.replace(/\/$/, '');
  const now = Date.now();
  return (obj) =>
    (q.tier === undefined || obj.meta.tier === q.tier) &&
    // A root is matched whole: objects of a root nested below it belong to that other root.
    (root === undefined || obj.meta.storage?.root === root) &&
    !isExpired(obj, now);
}

/**
 * Which objects of a page match `needle`: by key and inline index first; an
 * object whose index is in a sidecar and that did not match so is read from
 * its sidecar (at most SIDECAR_READ_CONCURRENCY at once, each counted by `read`).
 */
async function searchPage(driver: StorageDriver, objs: StoredObject[], needle: string, read: () => void): Promise<boolean[]> {
  const limit = pLimit(SIDECAR_READ_CONCURRENCY);
  return Promise.all(
    objs.map((obj) => {
      if (matches(obj.key, obj.meta.searchIndex, needle)) return true;
      if (obj.meta.searchIndexId === undefined) return false;
      read();
      return limit(async () => matches(obj.key, await resolveSearchIndex(driver, obj), needle));
    }),
  );
}

function toListItem(ws: string, store: string, driver: StorageDriver, obj: StoredObject): ListItem {
  const ref = toResourceRef(ws, store, driver, obj);
  return {
    ...ref,
    path: obj.key,
    'storage-backend': driver.backend,
    'storage-root': obj.meta.storage?.root ?? null,
    'path-under-root': obj.meta.storage?.relativePath ?? obj.key.slice(workspacePrefix(ws).length),
    'display-name': obj.key.split('/').at(-1) ?? obj.key,
    tier: obj.meta.tier,
    size: obj.meta.size,
    'content-type': obj.meta.contentType,
    'created-at': obj.meta.createdAt,
  };
}

/**
 * `q`: a case-insensitive substring of the display name, the path, a tag, the
 * source label, the indexed text or the raw-text excerpt.
 */
function matches(key: string, s: SearchIndex | undefined, needle: string): boolean {
  const haystack = [key, ...(s?.tags ?? []), s?.sourceLabel ?? '', s?.text ?? '', s?.rawText ?? ''];
  return haystack.some((h) => h.toLowerCase().includes(needle));
}

function listPrefix(ws: string, q: ListQuery): string {
  const pathPrefix = q['path-prefix'] ?? '';
  if (pathPrefix !== '') {
    // The last segment may be partial ("exports/20" finds "exports/2026"); every segment is still checked.
    checkSegments(pathPrefix.replace(/\/$/, ''), 'path-prefix');
  }
  if (q['storage-root'] !== undefined) {
    const root = checkSegments(q['storage-root'].replace(/\/$/, ''), 'storage-root');
    return `${workspacePrefix(ws)}storage/${root.join('/')}/${pathPrefix}`;
  }
  return `${workspacePrefix(ws)}${pathPrefix}`;
}

/**
 * A listing's cursor: base64url of JSON `{s, c?}`, the position `s` in the
 * listed stores and that store's own list() cursor `c`. A store cursor is
 * blobgate's own too, checked by its driver before any store call
 * (docs/storage-contract.md, `list`): no store page token reaches a caller.
 */
function encodeCursor(p: { s: number; c?: string }): string {
  return Buffer.from(JSON.stringify(p)).toString('base64url');
}

/** `invalid_request` for a cursor encodeCursor did not make for these stores (garbled, re-encoded, past the last store). */
function decodeCursor(cursor: string, stores: number): { s: number; c?: string } {
  try {
    const p = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as { s: unknown; c?: unknown };
    if (Number.isSafeInteger(p.s) && (p.s as number) >= 0 && (p.s as number) < stores && (p.c === undefined || (typeof p.c === 'string' && p.c !== ''))) {
      const position = { s: p.s as number, ...(typeof p.c === 'string' ? { c: p.c } : {}) };
      if (encodeCursor(position) === cursor) return position;
    }
  } catch {
    // fall through
  }
  throw badCursor();
}
