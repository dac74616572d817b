import { IdempotencyStrategy, RETRYABLE_ERR_FN_DEFAULT, Storage, type StorageOptions } from '@google-cloud/storage';
import { nativeCrc32cGenerator } from './crc32c.js';
import { isTransientGcsError } from './gcs-errors.js';

/**
 * The client's own retry machinery, configured once for every request of a
 * store (read in @google-cloud/storage 7.22, build/cjs/src):
 *
 * - `RetryAlways`. Under the default `RetryConditional` the client decides per
 *   call by *changing the shared `storage.retryOptions`*: an unconditioned
 *   `File.delete`/`setMetadata` sets `autoRetry = false` until the call settles
 *   (file.js `disableAutoRetryConditionallyIdempotent_`, restored in
 *   `.finally`), so every concurrent request of the store goes unretried
 *   meanwhile; and `File.createResumableUpload` without `ifGenerationMatch`
 *   hands `storage.retryOptions` itself to the resumable `Upload`, whose
 *   constructor then sets `maxRetries = 0` on it for good
 *   (resumable-upload.js, `if (!autoRetry) cfg.retryOptions.maxRetries = 0`):
 *   after the first multi-chunk write no request of the store was retried.
 *   Under `RetryAlways` none of those branches runs (each tests for
 *   `RetryConditional` or `RetryNever`), so no call changes what another sees.
 *   Every request blobgate sends is safe to repeat: reads, listings and
 *   deletes (a 404 after a lost answer counts as done); the staging session
 *   and its chunks carry `ifGenerationMatch: 0` on a fresh name; the
 *   single-request upload carries `ifGenerationMatch` of the generation it
 *   replaces (gcs-write.ts); a publishing rewrite sent twice publishes the
 *   same bytes and meta; a session cancel is idempotent.
 * - `retryableErrorFn`: the client's default (408, 429, 5xx, resets) plus a
 *   refused or timed-out connection (gcs-errors.ts), which never reached GCS.
 * - `totalTimeout`: a resumable upload measures it from the upload's start,
 *   not per request (resumable-upload.js `getRetryDelay`), so the default
 *   600 s left no retry to a chunk of an upload running longer. A day here;
 *   `maxRetries` and `maxRetryDelay` bound each request anyway. Note that a
 *   resumable upload counts `maxRetries` over all of its chunks together
 *   (`numRetries` is never reset).
 */
export const GCS_RETRY_OPTIONS: Readonly<NonNullable<StorageOptions['retryOptions']>> = Object.freeze({
  autoRetry: true,
  maxRetries: 3,
  retryDelayMultiplier: 2,
  maxRetryDelay: 64,
  totalTimeout: 86_400,
  idempotencyStrategy: IdempotencyStrategy.RetryAlways,
  retryableErrorFn: (err?: Parameters<typeof RETRYABLE_ERR_FN_DEFAULT>[0]) => RETRYABLE_ERR_FN_DEFAULT(err) || isTransientGcsError(err),
});

/**
 * The backoff of the client's retries, in seconds (GCS_RETRY_OPTIONS holds
 * the defaults). Before retry n + 1 the client waits `retryDelayMultiplier`^n
 * s (plus up to 1 s of jitter on most requests: retry-request
 * `getNextRetryDelay`, resumable-upload.js `getRetryDelay`), at most
 * `maxRetryDelay`. `maxRetryDelay` may not go below 1 s: `File.save` and
 * `createResumableUpload` retry through async-retry, whose 1 s minimum
 * delay the client does not lower, and which throws "minTimeout is greater
 * than maxTimeout" on every call below it. Which requests are retried, and
 * how often, is not configurable.
 */
export interface GcsRetryTiming {
  retryDelayMultiplier?: number;
  maxRetryDelay?: number;
  totalTimeout?: number;
}

/** The fields of a Google service-account key file (JSON) that the client needs. */
export interface GcsServiceAccountKey {
  client_email: string;
  private_key: string;
  type?: string;
  project_id?: string;
  private_key_id?: string;
  universe_domain?: string;
}

/** Ready, validated options (the registry reads config; this module never does). */
export interface GcsClientOptions {
  /** Defaults to the key's project_id, else what Application Default Credentials say. */
  projectId?: string;
  /**
   * For tests and private endpoints, e.g. `http://127.0.0.1:4443`. The client
   * sends no credentials to an endpoint outside googleapis.com (the SDK's
   * `useAuthWithCustomEndpoint` default), and V4 signed URLs point at it.
   */
  apiEndpoint?: string;
  /** A parsed service-account key; when absent, Application Default Credentials are used. */
  credentials?: GcsServiceAccountKey;
  /** Overrides the retry backoff (tests shorten it to about 1 s per retry); default GCS_RETRY_OPTIONS. */
  retryTiming?: GcsRetryTiming;
}

export function buildGcsStorage(opts: GcsClientOptions): Storage {
  const projectId = opts.projectId ?? opts.credentials?.project_id;
  const options: StorageOptions = {
    crc32cGenerator: nativeCrc32cGenerator,
    retryOptions: { ...GCS_RETRY_OPTIONS, ...retryTiming(opts.retryTiming) },
    ...(projectId === undefined ? {} : { projectId }),
    ...(opts.apiEndpoint === undefined ? {} : { apiEndpoint: opts.apiEndpoint }),
  };
  if (opts.credentials !== undefined) {
    const { client_email, private_key, universe_domain } = opts.credentials;
    options.credentials = { client_email, private_key, ...(universe_domain === undefined ? {} : { universe_domain }) };
  }
  return new Storage(options);
}

/** The given timing fields only (an absent one keeps its default). */
function retryTiming(timing: GcsRetryTiming | undefined): GcsRetryTiming {
  const out: GcsRetryTiming = {};
  for (const k of ['retryDelayMultiplier', 'maxRetryDelay', 'totalTimeout'] as const) {
    const v = timing?.[k];
    if (v === undefined) continue;
    const floor = k === 'maxRetryDelay' ? 1 : 0; // see GcsRetryTiming
    if (!Number.isFinite(v) || v <= 0 || v < floor) throw new RangeError(`retryTiming.${k} must be a positive number of seconds${floor ? `, at least ${floor}` : ''}, got ${v}`);
    out[k] = v;
  }
  return out;
}

/**
 * Parses a service-account key file's text. Errors name what is wrong, never
 * the content (the text holds a private key).
 */
export function parseServiceAccountKey(text: string): GcsServiceAccountKey {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new Error('The GCS credentials are not valid JSON; expected a service-account key file.');
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new Error('The GCS credentials are not a JSON object; expected a service-account key file.');
  }
  const v = value as Record<string, unknown>;
  const missing = ['client_email', 'private_key'].filter((k) => typeof v[k] !== 'string' || v[k] === '');
  if (missing.length > 0) throw new Error(`The GCS service-account key lacks ${missing.join(' and ')}.`);
  const optional = (k: string): string | undefined => (typeof v[k] === 'string' ? v[k] : undefined);
  const key: GcsServiceAccountKey = { client_email: v.client_email as string, private_key: v.private_key as string };
  for (const k of ['type', 'project_id', 'private_key_id', 'universe_domain'] as const) {
    const s = optional(k);
    if (s !== undefined) key[k] = s;
  }
  return key;
}
