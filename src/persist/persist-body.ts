import type { Readable } from 'node:stream';
import type { SearchIndex, StorageDriver, StorageScope, StoredObject, Tier } from '../storage/driver.js';
import { BlobgateError } from '../errors.js';
import { capExceeded } from '../storage/meter.js';
import { checkSearchIndexSize, peek, RAW_TEXT_BYTES, textExcerpt, wantsRawText, withRawText } from './search-index.js';

export interface PersistBodyRequest {
  driver: StorageDriver;
  key: string;
  body: Readable;
  cap: number;
  /** Decoded length the source announced (Content-Length without encoding). */
  announcedBytes?: number;
  tier: Tier;
  /** The tier's lifetime: required for ephemeral writes, refused for retained ones (the tier decides, wherever the bytes land). */
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
  if ((req.tier === 'ephemeral') !== (req.ttlSeconds !== undefined)) {
    req.body.destroy();
    throw new BlobgateError('internal', `A ${req.tier} write ${req.tier === 'ephemeral' ? 'without' : 'with'} an expiry reached the store; nothing was stored.`, { tier: req.tier });
  }
  if (req.announcedBytes !== undefined && req.announcedBytes > req.cap) {
    req.body.destroy();
    throw capExceeded(req.cap, req.announcedBytes);
  }
  let body = req.body;
  let searchIndex = req.searchIndex;
  checkSearchIndexSize(searchIndex, 'persist.search-index');
  if (wantsRawText(req.tier, req.contentType, searchIndex)) {
    const peeked = await peek(body, RAW_TEXT_BYTES).catch((err: unknown) => {
      body.destroy();
      throw err;
    });
    body = peeked.body;
    const rawText = textExcerpt(peeked.head);
    if (rawText) searchIndex = withRawText(searchIndex, rawText);
  }
  const created = new Date();
  return req.driver.write({
    key: req.key,
    body,
    maxBytes: req.cap,
    ...(req.announcedBytes !== undefined ? { expectedSize: req.announcedBytes } : {}),
    meta: {
      contentType: req.contentType,
      tier: req.tier,
      createdAt: created.toISOString(),
      ...(req.ttlSeconds !== undefined ? { expiresAt: new Date(created.getTime() + req.ttlSeconds * 1000).toISOString() } : {}),
      ...(req.storage ? { storage: req.storage } : {}),
      ...(searchIndex ? { searchIndex } : {}),
    },
    signal: req.signal,
  });
}
