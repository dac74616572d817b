import type { StorageDriver, StoredObject } from '../storage/driver.js';
import { formatResourceUri } from './resource-uri.js';

/** The blob ref: the concrete storage location of a resource (docs/key-layout.md#resource-refs-and-blob-refs). */
export interface BlobRef {
  store: string;
  backend: StorageDriver['backend'];
  bucket: string | null;
  path: string;
  size: number;
  sha256: string;
  'content-type': string;
  tier: string;
  'created-at': string;
  'expires-at': string | null;
}

/**
 * A slot write's storage scope, named as the listing names it at top level
 * (`storage-backend`, `storage-root`, `path-under-root`; README "Field
 * names"). `relative-path` is the name this field had before; it carries the
 * same value until clients have moved to `path-under-root`.
 */
export interface StorageFields {
  backend: string;
  slot: string;
  root: string;
  'path-under-root': string;
  /** @deprecated the same value as `path-under-root`. */
  'relative-path': string;
}

export interface ResourceRef {
  type: 'resource-ref';
  uri: string;
  'resource-uri': string;
  'content-type': string;
  'blob-ref': BlobRef;
  storage?: StorageFields;
  'search-index'?: { text?: string; tags?: string[]; 'source-label'?: string; 'include-raw-content?'?: boolean };
}

export function toResourceRef(workspace: string, store: string, driver: Pick<StorageDriver, 'backend' | 'bucket'>, obj: StoredObject): ResourceRef {
  const uri = formatResourceUri({ workspace, store, key: obj.key });
  const { meta } = obj;
  const ref: ResourceRef = {
    type: 'resource-ref',
    uri,
    'resource-uri': uri,
    'content-type': meta.contentType,
    'blob-ref': {
      store,
      backend: driver.backend,
      bucket: driver.bucket,
      path: obj.key,
      size: meta.size,
      sha256: meta.sha256,
      'content-type': meta.contentType,
      tier: meta.tier,
      'created-at': meta.createdAt,
      'expires-at': meta.expiresAt ?? null,
    },
  };
  if (meta.storage) {
    const { slot, root, relativePath } = meta.storage;
    ref.storage = { backend: driver.backend, slot, root, 'path-under-root': relativePath, 'relative-path': relativePath };
  }
  const s = meta.searchIndex;
  if (s && (s.text !== undefined || s.tags !== undefined || s.sourceLabel !== undefined || s.includeRawContent !== undefined)) {
    // The raw-text excerpt is for search, not part of the resource's description.
    ref['search-index'] = {
      ...(s.text !== undefined ? { text: s.text } : {}),
      ...(s.tags !== undefined ? { tags: s.tags } : {}),
      ...(s.sourceLabel !== undefined ? { 'source-label': s.sourceLabel } : {}),
      ...(s.includeRawContent !== undefined ? { 'include-raw-content?': s.includeRawContent } : {}),
    };
  }
  return ref;
}
