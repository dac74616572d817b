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

/**
 * What blobgate sends with stored bytes of a type a browser renders as an
 * active document (script, forms, plugins, same-origin requests) when it is
 * served inline from blobgate's own origin, as `/v1/resources/content` and
 * blobgate-signed URLs are: `sandbox` gives the document a unique opaque
 * origin with scripts, forms and popups disabled, so stored HTML cannot act
 * as blobgate (README "Security defaults"). Passive types keep rendering as
 * before; `X-Content-Type-Options: nosniff` keeps browsers from reading one
 * as the other.
 */
export const ACTIVE_CONTENT_CSP = 'sandbox';

const ACTIVE_TYPES = new Set(['text/html', 'text/xml', 'application/xml', 'text/xsl', 'image/svg+xml', 'application/xhtml+xml']);
const MEDIA_TYPE = /^([a-z0-9!#$&^_.+-]+)\/([a-z0-9!#$&^_.+-]+)$/;

/** HTML, XHTML, SVG, any XML (it may carry XHTML or XSLT) and multipart (x-mixed-replace renders its parts); an unparseable type counts as active. */
export function isActiveContent(contentType: string): boolean {
  const essence = (contentType.split(';')[0] ?? '').trim().toLowerCase();
  const m = MEDIA_TYPE.exec(essence);
  if (!m) return true;
  return ACTIVE_TYPES.has(essence) || m[1] === 'multipart' || m[2]!.endsWith('+xml');
}
