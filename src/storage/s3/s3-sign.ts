import { contentDisposition } from '../disposition.js';
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

