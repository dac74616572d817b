import { BlobgateError } from '../errors.js';
import { parseResourceUri, type BlobLocator } from '../refs/resource-uri.js';
import type { StorageDriver, StoredObject } from '../storage/driver.js';
import type { StoreRegistry } from '../storage/registry.js';

/** A resource URI resolved to its store's driver and object key. */
export interface Located {
  loc: BlobLocator;
  driver: StorageDriver;
}

/**
 * Throws when the caller may not touch a workspace (the HTTP layer passes the
 * token's grant check; the step runner passes "its own workspace only").
 */
export type WorkspaceCheck = (workspace: string) => void;

/** Parses a res:// URI and checks the caller may touch its workspace (403 before 404, so nothing leaks). */
export function locate(stores: StoreRegistry, uri: string, mayUse: WorkspaceCheck): Located {
  const loc = parseResourceUri(uri);
  mayUse(loc.workspace);
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
  if (isExpired(obj, now)) {
    throw new BlobgateError('gone', `The ephemeral resource expired at ${obj.meta.expiresAt}.`, { 'expired-at': obj.meta.expiresAt });
  }
}

export function isExpired(obj: StoredObject, now = Date.now()): boolean {
  return obj.meta.expiresAt !== undefined && Date.parse(obj.meta.expiresAt) <= now;
}

/** A driver's `not_found` names the resource (store and key under the workspace), never the backend's words. */
export function notFoundAsResource(err: unknown, located: Located): unknown {
  if (err instanceof BlobgateError && err.code === 'not_found') {
    return new BlobgateError('not_found', `No resource at ${located.loc.store}:${located.loc.key.split('/').slice(2).join('/')}.`);
  }
  return err;
}
