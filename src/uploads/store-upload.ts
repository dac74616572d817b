import type { Readable } from 'node:stream';
import type { Config } from '../config/types.js';
import { uploadPlacement, type SlotBinding } from '../persist/placement.js';
import { parseSearchIndexField } from '../persist/search-index.js';
import { persistUnderCap, writeCap, type WriteCap } from '../persist/write-cap.js';
import { toResourceRef, type ResourceRef } from '../refs/resource-ref.js';
import { BlobgateError } from '../errors.js';
import type { SearchIndex, Tier } from '../storage/driver.js';
import type { StoreRegistry } from '../storage/registry.js';

export interface UploadDeps {
  config: Config;
  stores: StoreRegistry;
}

/** Form fields (or PUT query parameters) that shape the files that follow them. */
export const UPLOAD_FIELDS = ['tier', 'path', 'filename', 'slot', 'root', 'profile-id', 'prefix', 'connection', 'content-type', 'search-index'] as const;
export type UploadField = (typeof UPLOAD_FIELDS)[number];
export type UploadFields = Partial<Record<UploadField, string>>;

export function isUploadField(name: string): name is UploadField {
  return (UPLOAD_FIELDS as readonly string[]).includes(name);
}

/**
 * The tier an upload's fields ask for: `tier` (`retained` or `ephemeral`,
 * also written `:ephemeral` as the step's keywords are), retained when absent.
 */
export function uploadTier(fields: UploadFields): Tier {
  const given = fields.tier;
  if (given === undefined) return 'retained';
  const tier = given.replace(/^:/, '');
  if (tier === 'retained' || tier === 'ephemeral') return tier;
  throw new BlobgateError('invalid_request', `tier ${JSON.stringify(given)} is not a tier: use "retained" (the default) or "ephemeral".`, { field: 'tier' });
}

/** An upload lands in its tier, under that tier's cap; a refusal names the ephemeral tier's larger cap when there is one. */
export function uploadCap(config: Config, tier: Tier): WriteCap {
  return writeCap({ caller: 'upload', tier, tierCap: config.tiers[tier].capBytes, ephemeralCap: config.tiers.ephemeral.capBytes });
}

/** The most any upload may carry, whatever its tier: the multipart parser's own bound. */
export function largestUploadCap(config: Config): WriteCap {
  return uploadCap(config, config.tiers.ephemeral.capBytes > config.tiers.retained.capBytes ? 'ephemeral' : 'retained');
}

export interface UploadFile {
  workspace: string;
  fields: UploadFields;
  body: Readable;
  signal: AbortSignal;
  /** The Content-Length of a raw upload; over the cap, nothing is read. */
  announcedBytes?: number;
  /** Told the store (and tier) the file goes to, once placed (before any byte is written), so a failure can name them. */
  placed?: (store: string, tier: Tier) => void;
}

/**
 * Stores one uploaded file in its tier (retained unless the `tier` field
 * says ephemeral) or the slot its fields name, streamed under the tier's
 * cap, all or nothing. Placement and search-index
 * fields are checked before the first byte is read; on such a refusal the body
 * is drained so the request can finish and the error be sent.
 */
export async function storeUpload(deps: UploadDeps, file: UploadFile): Promise<ResourceRef> {
  const { fields, body, workspace } = file;
  let placement;
  let searchIndex: SearchIndex | undefined;
  let tier: Tier;
  try {
    tier = uploadTier(fields);
    placement = uploadPlacement(deps.config, {
      workspace,
      tier,
      filename: fields.filename ?? '',
      ...(fields.path !== undefined ? { path: fields.path } : {}),
      ...(fields.slot !== undefined ? { slot: fields.slot, binding: slotBinding(fields) } : {}),
      ...(fields['content-type'] !== undefined ? { contentType: fields['content-type'] } : {}),
    });
    searchIndex = fields['search-index'] !== undefined ? parseSearchIndexField(fields['search-index']) : undefined;
  } catch (err) {
    body.resume();
    throw err;
  }
  const driver = deps.stores.get(placement.store);
  file.placed?.(placement.store, tier);
  const announced = file.announcedBytes;
  const ttlSeconds = deps.config.tiers[tier].ttlSeconds;
  const stored = await persistUnderCap(uploadCap(deps.config, tier), {
    driver,
    key: placement.key,
    body,
    ...(announced !== undefined && Number.isSafeInteger(announced) ? { announcedBytes: announced } : {}),
    tier,
    ...(ttlSeconds !== undefined ? { ttlSeconds } : {}),
    contentType: placement.contentType,
    ...(placement.storage ? { storage: placement.storage } : {}),
    ...(searchIndex ? { searchIndex } : {}),
    signal: file.signal,
  });
  return toResourceRef(workspace, placement.store, driver, stored);
}

function slotBinding(fields: UploadFields): SlotBinding {
  return {
    ...(fields.root !== undefined ? { root: fields.root } : {}),
    ...(fields['profile-id'] !== undefined ? { profileId: fields['profile-id'] } : {}),
    ...(fields.prefix !== undefined ? { prefix: fields.prefix } : {}),
    ...(fields.connection !== undefined ? { connection: fields.connection } : {}),
  };
}
