import type { ListItem } from './list.js';

/**
 * A listed resource under the names the platform's own resource routes use
 * (`displayName`, `storage_backend`, `storage_root`, `path_under_root`).
 * blobgate's own answers stay kebab-case (README "Field names"); this is the
 * one mapping for routes that serve the platform's shapes, so the two
 * spellings never drift apart. `webUrl` is left out: blobgate has no web UI
 * to link to.
 */
export interface SeedListItem {
  uri: string;
  displayName: string;
  path: string;
  storage_backend: string;
  storage_root: string | null;
  path_under_root: string;
}

export function toSeedListItem(item: ListItem): SeedListItem {
  return {
    uri: item.uri,
    displayName: item['display-name'],
    path: item.path,
    storage_backend: item['storage-backend'],
    storage_root: item['storage-root'],
    path_under_root: item['path-under-root'],
  };
}
