import type { ObjectMeta, ObjectMetaInit, SearchIndex, StorageScope, Tier } from './driver.js';

/**
 * Object meta as a flat map of ASCII strings, for backends whose object
 * metadata is a string map (S3 user metadata, GCS custom metadata). Values are
 * percent-encoded so that any Unicode survives S3's ASCII-only headers.
 * content-type and size travel in the backend's native fields, not here.
 */
const PREFIX = 'bg-';

export function encodeMeta(meta: ObjectMetaInit & { sha256?: string }): Record<string, string> {
  const out: Record<string, string> = {
    [`${PREFIX}tier`]: meta.tier,
    [`${PREFIX}created-at`]: meta.createdAt,
  };
  if (meta.sha256 !== undefined) out[`${PREFIX}sha256`] = meta.sha256;
  if (meta.expiresAt !== undefined) out[`${PREFIX}expires-at`] = meta.expiresAt;
  if (meta.storage !== undefined) out[`${PREFIX}storage`] = encodeURIComponent(JSON.stringify(meta.storage));
  if (meta.searchIndex !== undefined) out[`${PREFIX}search-index`] = encodeURIComponent(JSON.stringify(meta.searchIndex));
  if (meta.searchIndexId !== undefined) out[`${PREFIX}search-index-id`] = meta.searchIndexId;
  return out;
}

/**
 * Rebuilds meta from a backend's string map plus its native fields. Objects
 * written by something other than blobgate still decode: tier defaults to
 * retained, sha256 to '' (unknown).
 */
export function decodeMeta(map: Record<string, string | undefined> | undefined, native: { contentType?: string; size: number; lastModified?: Date }): ObjectMeta {
  const m = map ?? {};
  const tier: Tier = m[`${PREFIX}tier`] === 'ephemeral' ? 'ephemeral' : 'retained';
  const meta: ObjectMeta = {
    contentType: native.contentType ?? 'application/octet-stream',
    size: native.size,
    sha256: m[`${PREFIX}sha256`] ?? '',
    tier,
    createdAt: m[`${PREFIX}created-at`] ?? (native.lastModified ?? new Date(0)).toISOString(),
  };
  const expiresAt = m[`${PREFIX}expires-at`];
  if (expiresAt) meta.expiresAt = expiresAt;
  const storage = parseJson<StorageScope>(m[`${PREFIX}storage`]);
  if (storage) meta.storage = storage;
  const searchIndex = parseJson<SearchIndex>(m[`${PREFIX}search-index`]);
  if (searchIndex) meta.searchIndex = searchIndex;
  const searchIndexId = m[`${PREFIX}search-index-id`];
  if (searchIndexId) meta.searchIndexId = searchIndexId;
  return meta;
}

function parseJson<T>(value: string | undefined): T | undefined {
  if (!value) return undefined;
  try {
    return JSON.parse(decodeURIComponent(value)) as T;
  } catch {
    return undefined;
  }
}
