import type { FastifyInstance } from 'fastify';
import { BlobgateError } from '../../errors.js';
import { checkSegments } from '../../persist/keys.js';
import { toResourceRef, type ResourceRef } from '../../refs/resource-ref.js';
import { workspacePrefix } from '../../refs/resource-uri.js';
import type { StoreRegistry } from '../../storage/registry.js';
import { requireWorkspace, type TokenAuth } from '../auth.js';
import { listQuery, workspaceParams } from '../schemas.js';

interface ListQuery {
  'path-prefix'?: string;
  'storage-root'?: string;
  'storage-backend'?: 'local' | 's3' | 'gcs';
  tier?: 'retained' | 'ephemeral';
  limit?: string;
  cursor?: string;
}

/** Bounds the backend calls one list request makes when filters thin out pages. */
const MAX_BACKEND_CALLS = 10;

/**
 * Lists a workspace's blobs across every configured store, in store order and
 * key order within a store. `storage-root` narrows to a slot root and
 * `path-prefix` is then relative to it (seed 000, "storage-root … path-prefix
 * is relative to the configured root"); without a root, path-prefix is
 * relative to the workspace (e.g. `persist/daily`). Expired blobs are skipped.
 */
export function listRoutes(app: FastifyInstance, deps: { stores: StoreRegistry; auth: TokenAuth }): void {
  app.get<{ Params: { ws: string }; Querystring: ListQuery }>(
    '/v1/workspaces/:ws/resources',
    { schema: { params: workspaceParams, querystring: listQuery } },
    async (request) => {
      const { ws } = request.params;
      requireWorkspace(deps.auth.authenticate(request), ws);
      const q = request.query;
      const limit = Math.min(Number(q.limit ?? 100), 1000);
      const prefix = listPrefix(ws, q);
      const root = q['storage-root']?.replace(/\/$/, '');
      const stores = deps.stores.entries().filter(([, d]) => q['storage-backend'] === undefined || d.backend === q['storage-backend']);
      let position = q.cursor ? decodeCursor(q.cursor) : { s: 0 };
      const items: ResourceRef[] = [];
      const now = Date.now();
      for (let calls = 0; calls < MAX_BACKEND_CALLS && position.s < stores.length && items.length < limit; calls++) {
        const [name, driver] = stores[position.s]!;
        const page = await driver.list({ prefix, limit: limit - items.length, ...(position.c ? { cursor: position.c } : {}) });
        for (const obj of page.items) {
          if (q.tier !== undefined && obj.meta.tier !== q.tier) continue;
          // A root is matched whole: objects of a root nested below it belong to that other root.
          if (root !== undefined && obj.meta.storage?.root !== root) continue;
          if (obj.meta.expiresAt !== undefined && Date.parse(obj.meta.expiresAt) <= now) continue;
          items.push(toResourceRef(ws, name, driver, obj));
        }
        position = page.cursor ? { s: position.s, c: page.cursor } : { s: position.s + 1 };
      }
      return { items, ...(position.s < stores.length ? { cursor: encodeCursor(position) } : {}) };
    },
  );
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
