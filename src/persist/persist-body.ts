import type { Readable } from 'node:stream';
import type { SearchIndex, StorageDriver, StorageScope, StoredObject, Tier } from '../storage/driver.js';
import { capExceeded } from '../storage/meter.js';

export interface PersistBodyRequest {
  driver: StorageDriver;
  key: string;
  body: Readable;
  cap: number;
  /** Decoded length the source announced (Content-Length without encoding). */
  announcedBytes?: number;
  tier: Tier;
  ttlSeconds?: number;
  contentType: string;
  storage?: StorageScope;
  searchIndex?: SearchIndex;
  signal: AbortSignal;
}

/**
 * The persist pipeline's last stage: an announced length over the cap fails
 * before any byte is stored; otherwise the driver streams the body under the
 * cap (counting, never trusting the header) and commits it all or nothing.
 */
export async function persistBody(req: PersistBodyRequest): Promise<StoredObject> {
  if (req.announcedBytes !== undefined && req.announcedBytes > req.cap) {
    req.body.destroy();
    throw capExceeded(req.cap, req.announcedBytes);
  }
  const created = new Date();
  return req.driver.write({
    key: req.key,
    body: req.body,
    maxBytes: req.cap,
    ...(req.announcedBytes !== undefined ? { expectedSize: req.announcedBytes } : {}),
    meta: {
      contentType: req.contentType,
      tier: req.tier,
      createdAt: created.toISOString(),
      ...(req.ttlSeconds !== undefined ? { expiresAt: new Date(created.getTime() + req.ttlSeconds * 1000).toISOString() } : {}),
      ...(req.storage ? { storage: req.storage } : {}),
      ...(req.searchIndex ? { searchIndex: req.searchIndex } : {}),
    },
    signal: req.signal,
  });
}
