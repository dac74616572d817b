import { S3Client } from '@aws-sdk/client-s3';

/**
 * How the SDK handles flexible checksums. `when-supported` (the SDK default)
 * sends CRC32 checksums on every upload and validates them on download;
 * `when-required` only does so where the S3 API demands it. Some
 * S3-compatible stores reject the SDK's default checksums: configure those
 * with `when-required`.
 */
export type S3ChecksumMode = 'when-supported' | 'when-required';

export interface S3Credentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
}

/** Ready, validated options (the registry reads config; this module never does). */
export interface S3ClientOptions {
  region: string;
  /** For S3-compatible stores and tests, e.g. `http://127.0.0.1:9000`. */
  endpoint?: string;
  /** Path-style addressing (`endpoint/bucket/key`), which most S3-compatible stores need. */
  forcePathStyle?: boolean;
  /** Static credentials; when absent the SDK's default provider chain (env, profile, IMDS, …) is used. */
  credentials?: S3Credentials;
  /** Default `when-supported`. */
  checksumMode?: S3ChecksumMode;
}

/**
 * The SDK's own retry machinery, stated rather than left implicit: the
 * `standard` strategy retries throttling (503 SlowDown …), 500/502/503/504,
 * timeouts and dropped or refused connections (@smithy/core retry
 * service-error-classification: ECONNRESET, ECONNREFUSED, EPIPE, ETIMEDOUT)
 * with jittered exponential backoff, 3 attempts in all (its
 * DEFAULT_MAX_ATTEMPTS). Every request blobgate sends is safe to repeat:
 * PutObject and UploadPart carry a Buffer the SDK can send again; a repeated
 * CopyObject publishes the same bytes and meta; CompleteMultipartUpload,
 * AbortMultipartUpload and DeleteObject repeated after a lost answer are
 * confirmed or treated as done (s3-write.ts, staging.ts).
 */
export const S3_MAX_ATTEMPTS = 3;

export function buildS3Client(opts: S3ClientOptions): S3Client {
  quietNodeVersionWarning();
  const checksum = opts.checksumMode === 'when-required' ? 'WHEN_REQUIRED' : 'WHEN_SUPPORTED';
  return new S3Client({
    region: opts.region,
    ...(opts.endpoint === undefined ? {} : { endpoint: opts.endpoint }),
    forcePathStyle: opts.forcePathStyle ?? false,
    ...(opts.credentials === undefined ? {} : { credentials: { ...opts.credentials } }),
    requestChecksumCalculation: checksum,
    responseChecksumValidation: checksum,
    retryMode: 'standard',
    maxAttempts: S3_MAX_ATTEMPTS,
  });
}

/**
 * On Node 20 the SDK prints, at its first client, a multi-line warning that
 * its releases after January 2027 need Node >= 22 — at every start of
 * blobgate, which pins the SDK and supports Node 20 (package.json `engines`).
 * The maintainers' switch for it is this variable
 * (aws/aws-sdk-js-v3#7983; read by @aws-sdk/core's
 * emitWarningIfUnsupportedVersion). An operator who sets it keeps their value.
 */
function quietNodeVersionWarning(): void {
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
}
