import { S3ServiceException } from '@aws-sdk/client-s3';
import { BlobgateError } from '../../errors.js';

/**
 * SDK error → driver error, at the edge (docs/storage-contract.md#errors). The SDK error is
 * kept as `cause`; its message (which can name buckets, keys, request ids or
 * say why a signature failed) never reaches the BlobgateError message.
 *
 * HEAD responses carry no body, so a HeadObject on a missing bucket and on a
 * missing key both arrive as a bare 404 `NotFound`: head() cannot tell them
 * apart and says `not_found`. Every other call (GetObject, ListObjectsV2,
 * PutObject, …) gets `NoSuchBucket`, which is a `storage_error`, as is a
 * failing ping() (HeadBucket).
 */
export function translateS3Error(err: unknown, ctx: { key?: string; what: string }): BlobgateError {
  if (err instanceof BlobgateError) return err;
  const name = errorName(err);
  const status = httpStatus(err);
  if (name === 'NoSuchKey' || (name === 'NotFound' && status === 404)) {
    return new BlobgateError('not_found', ctx.key === undefined ? 'No such object.' : `No object at ${ctx.key}.`, undefined, { cause: err });
  }
  if (name === 'InvalidRange' || status === 416) {
    const size = sizeFromContentRange(err);
    const where = size === undefined ? 'the object' : `the object of ${size} bytes`;
    return new BlobgateError('range_not_satisfiable', `The range lies outside ${where}.`, size === undefined ? undefined : { size }, { cause: err });
  }
  return storageError(err, ctx.what);
}

export function storageError(err: unknown, what: string): BlobgateError {
  return new BlobgateError('storage_error', `The S3 store failed while ${what}; see the server log.`, undefined, { cause: err });
}

/** The S3 error code (`NoSuchKey`, `NoSuchUpload`, `AccessDenied`, …) or the JS error name. */
export function errorName(err: unknown): string | undefined {
  if (err instanceof S3ServiceException) return err.name;
  if (err instanceof Error) return err.name;
  return undefined;
}

export function httpStatus(err: unknown): number | undefined {
  return err instanceof S3ServiceException ? err.$metadata.httpStatusCode : undefined;
}

/** `Content-Range: bytes *\/N` of a 416 answer, when the SDK kept the raw response. */
function sizeFromContentRange(err: unknown): number | undefined {
  if (!(err instanceof S3ServiceException)) return undefined;
  const header = err.$response?.headers['content-range'];
  const m = header === undefined ? null : /\/(\d+)\s*$/.exec(header);
  return m ? Number(m[1]) : undefined;
}
