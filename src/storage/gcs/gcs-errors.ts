import { BlobgateError } from '../../errors.js';

/**
 * SDK error → driver error, at the edge (docs/storage-contract.md#errors). The SDK error is
 * kept as `cause`; its message (which names buckets and objects, or quotes the
 * server's answer) never reaches the BlobgateError message.
 *
 *   404 on an object         → `not_found`
 *   404 for a missing bucket → `storage_error` (a misconfigured store, not an absent key)
 *   416                      → `range_not_satisfiable`, details.size when known
 *   anything else            → `storage_error`
 */
export function translateGcsError(err: unknown, ctx: { key?: string; what: string; size?: number }): BlobgateError {
  if (err instanceof BlobgateError) return err;
  const status = gcsStatus(err);
  if (status === 404 && ctx.key !== undefined && !isBucketMissing(err)) {
    return new BlobgateError('not_found', `No object at ${ctx.key}.`, undefined, { cause: err });
  }
  if (status === 416) {
    const where = ctx.size === undefined ? 'the object' : `the object of ${ctx.size} bytes`;
    return new BlobgateError('range_not_satisfiable', `The range lies outside ${where}.`, ctx.size === undefined ? undefined : { size: ctx.size }, { cause: err });
  }
  return storageError(err, ctx.what);
}

export function storageError(err: unknown, what: string): BlobgateError {
  return new BlobgateError('storage_error', `The GCS store failed while ${what}; see the server log.`, undefined, { cause: err });
}

/**
 * The HTTP status an SDK error carries: `code` on ApiError (JSON-API calls),
 * `status` / `response.status` on GaxiosError (resumable uploads). Node's
 * string codes (`ECONNRESET`) are not statuses.
 */
export function gcsStatus(err: unknown): number | undefined {
  if (typeof err !== 'object' || err === null) return undefined;
  const e = err as { code?: unknown; status?: unknown; response?: { status?: unknown } };
  for (const v of [e.code, e.status, e.response?.status]) {
    if (typeof v === 'number' && Number.isInteger(v) && v >= 100 && v < 600) return v;
    if (typeof v === 'string' && /^[1-5]\d\d$/.test(v)) return Number(v);
  }
  return undefined;
}

/**
 * GCS answers a missing bucket and a missing object with the same status and
 * reason (404 `notFound`); only the message tells them apart ("The specified
 * bucket does not exist."). It is read here to classify, never passed on.
 */
export function isBucketMissing(err: unknown): boolean {
  if (gcsStatus(err) !== 404 || typeof err !== 'object' || err === null) return false;
  const e = err as { message?: unknown; errors?: unknown };
  const texts: unknown[] = [e.message, ...(Array.isArray(e.errors) ? e.errors.map((i: { message?: unknown }) => i?.message) : [])];
  return texts.some((t) => typeof t === 'string' && /bucket does not exist/i.test(t));
}

/** Node socket errors after which a request may simply be sent again. */
const TRANSIENT_CODES = new Set(['ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'ECONNREFUSED', 'ECONNABORTED', 'EAI_AGAIN', 'UND_ERR_SOCKET']);

/**
 * Whether a failed request is worth sending again: a dropped connection
 * (typically a keep-alive socket the server closed as the request went out)
 * or the statuses GCS documents as retryable (408, 429, 5xx).
 */
export function isTransientGcsError(err: unknown): boolean {
  const status = gcsStatus(err);
  if (status !== undefined) return status === 408 || status === 429 || status >= 500;
  for (let e: unknown = err, depth = 0; typeof e === 'object' && e !== null && depth < 5; e = (e as { cause?: unknown }).cause, depth++) {
    const { code, message } = e as { code?: unknown; message?: unknown };
    if (typeof code === 'string' && TRANSIENT_CODES.has(code)) return true;
    if (typeof message === 'string' && /socket hang up|ECONNRESET|other side closed/i.test(message)) return true;
  }
  return false;
}
