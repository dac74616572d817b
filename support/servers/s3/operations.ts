// Which S3 operation a request is, for fault injection (support/servers/faults.ts).
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { StoreFault } from '../faults.js';
import { errorXml } from './fauxqs.js';

/** The operation kinds faults can be armed for (path-style requests: /bucket/key?query). */
export type S3Operation =
  | 'PutObject'
  | 'CreateMultipartUpload'
  | 'UploadPart'
  | 'CompleteMultipartUpload'
  | 'AbortMultipartUpload'
  | 'CopyObject'
  | 'HeadObject'
  | 'GetObject'
  | 'DeleteObject'
  | 'ListMultipartUploads'
  | 'ListObjects'
  | 'HeadBucket';

export function s3Operation(method: string, rawUrl: string, headers: FastifyRequest['headers']): S3Operation | undefined {
  const url = new URL(rawUrl, 'http://x');
  const q = url.searchParams;
  const parts = url.pathname.split('/').slice(1);
  const hasKey = parts.length >= 2 && parts.slice(1).join('/') !== '';
  if (!hasKey) {
    if (method === 'GET') return q.has('uploads') ? 'ListMultipartUploads' : q.has('lifecycle') ? undefined : 'ListObjects';
    if (method === 'HEAD') return 'HeadBucket';
    return undefined;
  }
  switch (method) {
    case 'PUT':
      if (q.has('uploadId') && q.has('partNumber')) return 'UploadPart';
      return headers['x-amz-copy-source'] !== undefined ? 'CopyObject' : 'PutObject';
    case 'POST':
      if (q.has('uploads')) return 'CreateMultipartUpload';
      return q.has('uploadId') ? 'CompleteMultipartUpload' : undefined;
    case 'DELETE':
      return q.has('uploadId') ? 'AbortMultipartUpload' : 'DeleteObject';
    case 'HEAD':
      return 'HeadObject';
    case 'GET':
      return q.has('uploadId') ? undefined : 'GetObject';
    default:
      return undefined;
  }
}

/**
 * Fails a request the way an S3 front end does: the body is read (the client
 * is not cut off mid-send), nothing of it is kept, then an error answer
 * (500 InternalError, 503 SlowDown) or no answer at all.
 */
export async function failS3Request(request: FastifyRequest, reply: FastifyReply, fault: StoreFault): Promise<void> {
  const raw = request.raw;
  if (!raw.readableEnded) {
    raw.resume();
    await new Promise<void>((resolve) => {
      raw.once('end', resolve);
      raw.once('close', resolve);
    });
  }
  if (fault === 'drop') {
    raw.socket.destroy();
    return;
  }
  const [code, message] = fault === 503 ? ['SlowDown', 'Please reduce your request rate.'] : ['InternalError', 'We encountered an internal error. Please try again.'];
  await reply.status(fault).header('content-type', 'application/xml').send(request.method === 'HEAD' ? '' : errorXml(code, `${message} (injected)`));
}
