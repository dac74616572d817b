import { contentDisposition } from '../disposition.js';
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

