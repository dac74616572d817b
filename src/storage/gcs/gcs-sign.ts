import type { File } from '@google-cloud/storage';
import type { SignUrlRequest } from '../driver.js';

/**
 * A V4 signed GET URL (GOOG4-RSA-SHA256 query auth) that GCS serves itself.
 * With `download` (or a filename) the response carries a Content-Disposition
 * through the signed `response-content-disposition` query parameter, so it
 * cannot be altered without breaking the signature. Signing needs a
 * service-account key (or, under ADC, the IAM signBlob permission).
 */
export async function signReadUrl(file: File, logicalKey: string, req: SignUrlRequest): Promise<string> {
  const disposition = contentDisposition(req, logicalKey);
  const [url] = await file.getSignedUrl({
    version: 'v4',
    action: 'read',
    expires: Date.now() + req.expiresInSeconds * 1000,
    ...(disposition === undefined ? {} : { responseDisposition: disposition }),
  });
  return url;
}

/**
 * `attachment` when downloading, `inline` when only a filename was asked for;
 * the filename both as an ASCII fallback and as RFC 8187 UTF-8
 * (`filename*=UTF-8''…`, RFC 6266 §4.3). Defaults to the key's last segment.
 * (The same rule as the S3 driver's presigned URLs, src/storage/s3/s3-sign.ts.)
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
