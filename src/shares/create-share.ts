import { BlobgateError } from '../errors.js';
import { headLive, type Located } from '../resources/locate.js';
import { isDownloadable } from './artifact-kind.js';
import { DOWNLOAD_MAX_BYTES } from './limits.js';
import type { ShareStore } from './share-store.js';

/** The body of POST /api/resources/shares, in the seed's camelCase (docs/shares.md#creating-a-share). */
export interface ShareRequest {
  uri: string;
  title?: string;
  ttlSeconds?: number;
  claimUrl?: string;
  allowDownload?: boolean;
}

export interface CreatedShare {
  token: string;
  publicUrl: string;
  expiresAt: string;
  publicDownloadUrl?: string;
  title?: string;
  claimUrl?: string;
}

const DAY = 86_400;
export const SHARE_TTL_SECONDS = { default: 30 * DAY, min: 60, max: 90 * DAY } as const;
export const PREVIEW_PATH = '/public/artifact-previews';

/**
 * Shares a live resource: checks the TTL, keeps `claimUrl` only when it is a
 * same-origin relative path, and never lets the share outlive an ephemeral
 * blob. `publicDownloadUrl` is answered only when downloads were asked for and
 * the artifact is text-like and within the download bound.
 */
export async function createShare(deps: { shares: ShareStore; baseUrl: string }, located: Located, req: ShareRequest, now = Date.now()): Promise<CreatedShare> {
  const ttl = req.ttlSeconds ?? SHARE_TTL_SECONDS.default;
  if (ttl < SHARE_TTL_SECONDS.min || ttl > SHARE_TTL_SECONDS.max) {
    throw new BlobgateError(
      'invalid_request',
      `ttlSeconds must be from ${SHARE_TTL_SECONDS.min} (one minute) to ${SHARE_TTL_SECONDS.max} (90 days); got ${ttl}. Leave it out for 30 days.`,
      { field: 'ttlSeconds' },
    );
  }
  const obj = await headLive(located, now);
  let expiresMs = now + ttl * 1000;
  if (obj.meta.expiresAt !== undefined) expiresMs = Math.min(expiresMs, Date.parse(obj.meta.expiresAt));
  const expiresAt = new Date(expiresMs).toISOString();
  const title = req.title?.trim() || undefined;
  const claimUrl = safeClaimUrl(req.claimUrl);
  const allowDownload = req.allowDownload ?? false;
  const token = await deps.shares.create({
    workspace: located.loc.workspace,
    uri: req.uri,
    allowDownload,
    createdAt: new Date(now).toISOString(),
    expiresAt,
    ...(title !== undefined ? { title } : {}),
    ...(claimUrl !== undefined ? { claimUrl } : {}),
  });
  const publicUrl = `${deps.baseUrl.replace(/\/+$/, '')}${PREVIEW_PATH}/${token}`;
  const downloadable = allowDownload && isDownloadable(obj.meta.contentType) && obj.meta.size <= DOWNLOAD_MAX_BYTES;
  return {
    token,
    publicUrl,
    expiresAt,
    ...(downloadable ? { publicDownloadUrl: `${publicUrl}/download` } : {}),
    ...(title !== undefined ? { title } : {}),
    ...(claimUrl !== undefined ? { claimUrl } : {}),
  };
}

/**
 * `claimUrl` as the seed allows it: a path on the preview's own origin
 * (`/signup?source=x`). Anything else — an absolute URL, a protocol-relative
 * `//host` (also when dot segments resolve to it, `/.//host`), a backslash
 * that browsers read as a slash, control characters —
 * is ignored, not refused, as the seed says.
 */
export function safeClaimUrl(value: string | undefined): string | undefined {
  if (value === undefined) return undefined;
  const v = value.trim();
  if (!v.startsWith('/') || v.startsWith('//') || /[\\\u0000-\u001f\u007f\s]/.test(v)) return undefined;
  const base = 'https://origin.invalid';
  let parsed: URL;
  try {
    parsed = new URL(v, base);
  } catch {
    return undefined;
  }
  const path = parsed.pathname + parsed.search + parsed.hash;
  // Dot segments resolve away: "/.//host" comes out as "//host", which a browser reads as another origin.
  if (parsed.origin !== base || path.startsWith('//')) return undefined;
  return path;
}
