import { GetObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import type { SignUrlRequest } from '../driver.js';

/**
 * A presigned GET URL (SigV4 query auth) that S3 serves itself. With
 * `download` the response carries `Content-Disposition: attachment` through
 * S3's `response-content-disposition` override, which is part of the signed
 * query, so it cannot be altered without breaking the signature.
 */
export async function presignGet(client: S3Client, bucket: string, objectKey: string, logicalKey: string, req: SignUrlRequest): Promise<string> {
  const disposition = contentDisposition(req, logicalKey);
  const command = new GetObjectCommand({
    Bucket: bucket,
    Key: objectKey,
    ...(disposition === undefined ? {} : { ResponseContentDisposition: disposition }),
  });
  return getSignedUrl(client, command, { expiresIn: req.expiresInSeconds });
}

/**
 * `attachment` when downloading, `inline` when only a filename was asked for;
 * the filename both as an ASCII fallback and as RFC 8187 UTF-8
 * (`filename*=UTF-8''…`, RFC 6266 §4.3). Defaults to the key's last segment.
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
