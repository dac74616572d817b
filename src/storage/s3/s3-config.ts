import { storeCredential } from '../../config/credentials.js';
import { opt, type Reader } from '../../config/reader.js';
import { endpointUrl } from '../../config/value-checks.js';

/**
 * An S3 store's config section and S3's own limits. This module loads no
 * SDK: config is read (and `blobgate config check` runs) without it, and
 * the writer (s3-write.ts) takes its limits from here.
 */

/** S3's minimum part size (all parts but the last). */
export const MIN_PART_SIZE = 5 * 1024 * 1024;
/** S3's maximum part size. */
export const MAX_PART_SIZE = 5 * 1024 * 1024 * 1024;

/** An S3 store as configured (`stores.<name>` with `"driver": "s3"`). */
export interface S3StoreConfig {
  driver: 's3';
  bucket: string;
  region: string;
  endpoint?: string;
  forcePathStyle?: boolean;
  prefix?: string;
  /** References (`env:NAME`, `file:PATH`, src/config/secret-ref.ts), resolved when the store is opened. */
  credentials?: { accessKeyId: string; secretAccessKey: string; sessionToken?: string };
  partSize?: number;
  queueSize?: number;
  checksumMode?: 'when-supported' | 'when-required';
  /** Install blobgate's bucket lifecycle rules at start-up. */
  installLifecycle?: boolean;
}

/** Reads `stores.<name>` of an S3 store; problems go to the reader, with their key paths. */
export function parseS3Store(s: Reader, at: { cwd: string }): S3StoreConfig {
  s.only(['driver', 'bucket', 'region', 'endpoint', 'force-path-style', 'prefix', 'credentials', 'part-size', 'queue-size', 'checksum-mode', 'install-lifecycle']);
  const c = s.child('credentials');
  c.only(['access-key-id', 'secret-access-key', 'session-token']);
  const credentials = c.present
    ? {
        accessKeyId: storeCredential(c, 'access-key-id', at.cwd, true) ?? '',
        secretAccessKey: storeCredential(c, 'secret-access-key', at.cwd, true) ?? '',
        ...opt('sessionToken', storeCredential(c, 'session-token', at.cwd)),
      }
    : undefined;
  return {
    driver: 's3',
    bucket: s.string('bucket', true) ?? '',
    region: s.string('region') ?? 'us-east-1',
    ...opt('endpoint', endpointUrl(s, 'endpoint', true)),
    ...opt('forcePathStyle', s.boolean('force-path-style')),
    ...opt('prefix', s.string('prefix')),
    ...opt('credentials', credentials),
    ...opt('partSize', s.int('part-size', MIN_PART_SIZE, MAX_PART_SIZE)),
    ...opt('queueSize', s.int('queue-size', 1, 64)),
    ...opt('checksumMode', s.oneOf('checksum-mode', ['when-supported', 'when-required'] as const)),
    ...opt('installLifecycle', s.boolean('install-lifecycle')),
  };
}
