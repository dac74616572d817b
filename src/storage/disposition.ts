import type { SignUrlRequest } from './driver.js';

/**
 * The Content-Disposition of a download: `attachment` when downloading,
 * `inline` when only a filename was asked for; the filename both as an ASCII
 * fallback and as RFC 8187 UTF-8 (`filename*=UTF-8''…`, RFC 6266 §4.3).
 * Defaults to the key's last segment. One rule for S3 and GCS signed URLs and
 * the URLs blobgate serves itself.
 */
export function contentDisposition(req: Pick<SignUrlRequest, 'download' | 'filename'>, key: string): string | undefined {
  if (!req.download && req.filename === undefined) return undefined;
  const type = req.download ? 'attachment' : 'inline';
  const name = req.filename ?? key.slice(key.lastIndexOf('/') + 1);
  if (name === '') return type;
  const ascii = name.replace(/[^\x20-\x7e]|["\\%]/g, '_');
  return `${type}; filename="${ascii}"; filename*=UTF-8''${encodeRfc8187(name)}`;
}

/** Percent-encodes all but RFC 8187 attr-char. */
function encodeRfc8187(value: string): string {
  return encodeURIComponent(value).replace(/['()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}
