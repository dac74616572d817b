import { BlobgateError } from '../errors.js';
import { checkSegments } from '../persist/keys.js';
import { toResourceRef, type ResourceRef } from '../refs/resource-ref.js';
import { workspacePrefix } from '../refs/resource-uri.js';
import type { StorageDriver, StoredObject } from '../storage/driver.js';
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
  const stores = registry.entries().filter(([, d]) => q['storage-backend'] === undefined || d.backend === q['storage-backend']);
  let position = q.cursor ? decodeCursor(q.cursor) : { s: 0 };
  const items: ListItem[] = [];
  // Only file resources exist in blobgate: a query for other types is answered without a scan.
  if (!wantedTypes(q).includes('file')) return { items };
  for (let calls = 0; calls < MAX_BACKEND_CALLS && position.s < stores.length && items.length < limit; calls++) {
    const [name, driver] = stores[position.s]!;
    const page = await driver.list({ prefix, limit: limit - items.length, ...(position.c ? { cursor: position.c } : {}) });
    for (const obj of page.items) if (keep(obj)) items.push(toListItem(ws, name, driver, obj));
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

/** The filters a listed object must pass: tier, slot root, not expired, and the `q` search. */
function itemFilter(q: ListQuery): (obj: StoredObject) => boolean {
  const root = q['storage-root']?.replace(/\/$/, '');
  const needle = q.q?.toLowerCase();
  const now = Date.now();
  return (obj) =>
    (q.tier === undefined || obj.meta.tier === q.tier) &&
    // A root is matched whole: objects of a root nested below it belong to that other root.
    (root === undefined || obj.meta.storage?.root === root) &&
    !isExpired(obj, now) &&
    (needle === undefined || matches(obj, needle));
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
function matches(obj: StoredObject, needle: string): boolean {
  const s = obj.meta.searchIndex;
  const haystack = [obj.key, ...(s?.tags ?? []), s?.sourceLabel ?? '', s?.text ?? '', s?.rawText ?? ''];
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

function encodeCursor(p: { s: number; c?: string }): string {
  return Buffer.from(JSON.stringify(p)).toString('base64url');
}

function decodeCursor(cursor: string): { s: number; c?: string } {
  try {
    const p = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as { s: unknown; c?: unknown };
    if (Number.isSafeInteger(p.s) && (p.s as number) >= 0 && (p.c === undefined || typeof p.c === 'string')) {
      return { s: p.s as number, ...(typeof p.c === 'string' ? { c: p.c } : {}) };
    }
  } catch {
    // fall through
  }
  throw new BlobgateError('invalid_request', 'cursor is not one this API returned; start again without it.', { field: 'cursor' });
}
