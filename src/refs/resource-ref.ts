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

export interface ResourceRef {
  type: 'resource-ref';
  uri: string;
  'resource-uri': string;
  'content-type': string;
  'blob-ref': BlobRef;
  storage?: { backend: string; slot: string; root: string; 'relative-path': string };
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
    ref.storage = { backend: driver.backend, slot: meta.storage.slot, root: meta.storage.root, 'relative-path': meta.storage.relativePath };
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
