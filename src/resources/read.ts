import type { Readable } from 'node:stream';
import { withSearchIndex } from '../persist/search-sidecar.js';
import { toResourceRef, type ResourceRef } from '../refs/resource-ref.js';
import { contentDisposition } from '../storage/disposition.js';
import type { ReadResult } from '../storage/driver.js';
import { parseRangeHeader } from '../storage/range.js';
import { owned } from '../storage/stream-owner.js';
import { headLive, notFoundAsResource, type Located } from './locate.js';

/** The resource ref of a live resource (what GET /v1/resources answers). */
export async function describeResource(located: Located): Promise<ResourceRef> {
  const obj = await withSearchIndex(located.driver, await headLive(located));
  return toResourceRef(located.loc.workspace, located.loc.store, located.driver, obj);
}

export interface OpenedResource extends Omit<ReadResult, 'body'> {
  /** Owned from birth (a storage read may fail before anyone reads it); the caller pipes or destroys it. */
  body: Readable;
  /** The Content-Disposition the download asks for, if any. */
  disposition: string | undefined;
}

/**
 * Opens a live resource (or the byte range asked for). Everything the request
 * decides (range syntax, disposition) is worked out before the stored bytes
 * are opened, so a bad request opens nothing.
 */
export async function openResource(located: Located, rangeHeader: string | undefined, opts: { download?: boolean; filename?: string } = {}): Promise<OpenedResource> {
  const range = parseRangeHeader(rangeHeader);
  const disposition = contentDisposition({ ...(opts.download ? { download: true } : {}), ...(opts.filename !== undefined ? { filename: opts.filename } : {}) }, located.loc.key);
  await headLive(located);
  let read: ReadResult;
  try {
    read = await located.driver.read(located.loc.key, range);
  } catch (err) {
    throw notFoundAsResource(err, located);
  }
  return { ...read, body: owned(read.body), disposition };
}
