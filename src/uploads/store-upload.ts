import type { Readable } from 'node:stream';
import type { Config } from '../config/types.js';
import { uploadPlacement, type SlotBinding } from '../persist/placement.js';
import { parseSearchIndexField } from '../persist/search-index.js';
import { persistUnderCap, writeCap, type WriteCap } from '../persist/write-cap.js';
import { toResourceRef, type ResourceRef } from '../refs/resource-ref.js';
import type { SearchIndex } from '../storage/driver.js';
import type { StoreRegistry } from '../storage/registry.js';

export interface UploadDeps {
  config: Config;
  stores: StoreRegistry;
}

/** Form fields (or PUT query parameters) that shape the files that follow them. */
export const UPLOAD_FIELDS = ['path', 'filename', 'slot', 'root', 'profile-id', 'prefix', 'connection', 'content-type', 'search-index'] as const;
export type UploadField = (typeof UPLOAD_FIELDS)[number];
export type UploadFields = Partial<Record<UploadField, string>>;

export function isUploadField(name: string): name is UploadField {
  return (UPLOAD_FIELDS as readonly string[]).includes(name);
}

/** Uploads land in the retained tier, under its cap. */
export function uploadCap(config: Config): WriteCap {
  return writeCap({ caller: 'upload', tierCap: config.tiers.retained.capBytes });
}

export interface UploadFile {
  workspace: string;
  fields: UploadFields;
  body: Readable;
  signal: AbortSignal;
  /** The Content-Length of a raw upload; over the cap, nothing is read. */
  announcedBytes?: number;
  /** Told the store the file goes to, once placed (before any byte is written), so a failure can name it. */
  placed?: (store: string) => void;
}

/**
 * Stores one uploaded file in the retained tier (or the slot its fields
 * name), streamed under the cap, all or nothing. Placement and search-index
 * fields are checked before the first byte is read; on such a refusal the body
 * is drained so the request can finish and the error be sent.
 */
export async function storeUpload(deps: UploadDeps, file: UploadFile): Promise<ResourceRef> {
  const { fields, body, workspace } = file;
  let placement;
  let searchIndex: SearchIndex | undefined;
  try {
    placement = uploadPlacement(deps.config, {
      workspace,
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
  file.placed?.(placement.store);
  const announced = file.announcedBytes;
  const stored = await persistUnderCap(uploadCap(deps.config), {
    driver,
    key: placement.key,
    body,
    ...(announced !== undefined && Number.isSafeInteger(announced) ? { announcedBytes: announced } : {}),
    tier: 'retained',
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
