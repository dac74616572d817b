import type { FastifyReply } from 'fastify';
import { BlobgateError } from '../errors.js';
import { parseResourceUri, type BlobLocator } from '../refs/resource-uri.js';
import type { StorageDriver, StoredObject } from '../storage/driver.js';
import { contentDisposition } from '../storage/disposition.js';
import { parseRangeHeader } from '../storage/range.js';
import type { StoreRegistry } from '../storage/registry.js';
import { owned } from '../storage/stream-owner.js';
import { requireWorkspace, type Grant } from './auth.js';

export interface Located {
  loc: BlobLocator;
  driver: StorageDriver;
}

/** Parses a res:// URI and checks the caller may touch its workspace (403 before 404, so nothing leaks). */
export function locate(stores: StoreRegistry, uri: string, grant: Grant): Located {
  const loc = parseResourceUri(uri);
  requireWorkspace(grant, loc.workspace);
  if (!stores.has(loc.store)) throw new BlobgateError('not_found', `No resource at ${uri}: store "${loc.store}" is not configured.`);
  return { loc, driver: stores.get(loc.store) };
}

/** Head of an object that must be present and not expired (an expired ephemeral blob is `gone`). */
export async function headLive(located: Located, now = Date.now()): Promise<StoredObject> {
  let obj: StoredObject;
  try {
    obj = await located.driver.head(located.loc.key);
  } catch (err) {
    throw notFoundAsResource(err, located);
  }
  checkNotExpired(obj, now);
  return obj;
}

export function checkNotExpired(obj: StoredObject, now = Date.now()): void {
  if (obj.meta.expiresAt !== undefined && Date.parse(obj.meta.expiresAt) <= now) {
    throw new BlobgateError('gone', `The ephemeral resource expired at ${obj.meta.expiresAt}.`, { 'expired-at': obj.meta.expiresAt });
  }
}

function notFoundAsResource(err: unknown, located: Located): unknown {
  if (err instanceof BlobgateError && err.code === 'not_found') {
    return new BlobgateError('not_found', `No resource at ${located.loc.store}:${located.loc.key.split('/').slice(2).join('/')}.`);
  }
  return err;
}

/** Streams an object (or the range the client asked for) with the headers a download needs. */
export async function sendObject(
  reply: FastifyReply,
  located: Located,
  rangeHeader: string | undefined,
  opts: { download?: boolean; filename?: string } = {},
): Promise<FastifyReply> {
  // Everything the request decides is worked out before the stored bytes are opened.
  const range = parseRangeHeader(rangeHeader);
  const disposition = contentDisposition({ ...(opts.download ? { download: true } : {}), ...(opts.filename !== undefined ? { filename: opts.filename } : {}) }, located.loc.key);
  await headLive(located);
  let read;
  try {
    read = await located.driver.read(located.loc.key, range);
  } catch (err) {
    throw notFoundAsResource(err, located);
  }
  // Owned until the reply pipes it: a storage read may fail before then. Destroyed if the reply never takes it.
  const body = owned(read.body);
  try {
    const { meta } = read.object;
    reply.header('content-type', meta.contentType);
    reply.header('accept-ranges', 'bytes');
    if (meta.sha256) reply.header('etag', `"${meta.sha256}"`);
    reply.header('cache-control', 'private, no-store');
    reply.header('x-content-type-options', 'nosniff');
    if (disposition) reply.header('content-disposition', disposition);
    if (read.range) {
      reply.code(206);
      reply.header('content-range', `bytes ${read.range.start}-${read.range.end}/${meta.size}`);
      reply.header('content-length', String(read.range.end - read.range.start + 1));
    } else {
      reply.header('content-length', String(meta.size));
    }
    return reply.send(body);
  } catch (err) {
    body.destroy();
    throw err;
  }
}
