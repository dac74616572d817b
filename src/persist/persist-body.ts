import type { Readable } from 'node:stream';
import type { SearchIndex, StorageDriver, StorageScope, StoredObject, Tier } from '../storage/driver.js';
import { BlobgateError } from '../errors.js';
import { capExceeded } from '../storage/meter.js';
import { checkSearchIndexSize, encodedLength, INLINE_MAX_ENCODED, peek, rawTextBytes, textExcerpt, withRawText } from './search-index.js';
import { putSidecar, type PendingSidecar } from './search-sidecar.js';

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
  /** Told each chunk's size as the store counts it (WriteRequest.progress). */
  progress?: (bytes: number) => void;
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
  const rawBytes = rawTextBytes(req.tier, req.contentType, searchIndex);
  if (rawBytes > 0) {
    const peeked = await peek(body, rawBytes).catch((err: unknown) => {
      body.destroy();
      throw err;
    });
    body = peeked.body;
    const rawText = textExcerpt(peeked.head);
    if (rawText) searchIndex = withRawText(searchIndex, rawText);
  }
  const created = new Date();
  const expiresAt = req.ttlSeconds !== undefined ? new Date(created.getTime() + req.ttlSeconds * 1000).toISOString() : undefined;
  // An index too large for meta goes to a sidecar, put before the blob is published (src/persist/search-sidecar.ts).
  let sidecar: PendingSidecar | undefined;
  if (searchIndex && encodedLength(searchIndex) > INLINE_MAX_ENCODED) {
    sidecar = await putSidecar(req.driver, req.key, searchIndex, expiresAt).catch((err: unknown) => {
      body.destroy();
      throw err;
    });
  }
  let stored: StoredObject;
  try {
    stored = await req.driver.write({
      key: req.key,
      body,
      maxBytes: req.cap,
      ...(req.announcedBytes !== undefined ? { expectedSize: req.announcedBytes } : {}),
      meta: {
        contentType: req.contentType,
        tier: req.tier,
        createdAt: created.toISOString(),
        ...(expiresAt !== undefined ? { expiresAt } : {}),
        ...(req.storage ? { storage: req.storage } : {}),
        ...(sidecar ? { searchIndexId: sidecar.writeId } : searchIndex ? { searchIndex } : {}),
      },
      signal: req.signal,
      ...(req.progress ? { progress: req.progress } : {}),
    });
  } catch (err) {
    await sidecar?.discard();
    throw err;
  }
  if (!sidecar || !searchIndex) return stored;
  await sidecar.published();
  return { ...stored, meta: { ...stored.meta, searchIndex } };
}
