import { storeCredential } from '../../config/credentials.js';
import { opt, type Reader } from '../../config/reader.js';
import { endpointUrl } from '../../config/value-checks.js';
import { CHUNK_ALIGN, MAX_PARALLEL_PARTS } from './gcs-write.js';

/**
 * A GCS store's config section. Loads no SDK (gcs-write.ts takes only types
 * from it): config is read, and `blobgate config check` runs, without it.
 */

/** The largest chunk size config accepts. */
const MAX_CHUNK_SIZE = 1024 * 1024 * 1024;

/** A GCS store as configured (`stores.<name>` with `"driver": "gcs"`). */
export interface GcsStoreConfig {
  driver: 'gcs';
  bucket: string;
  projectId?: string;
  apiEndpoint?: string;
  prefix?: string;
  /** Reference (`env:NAME`, `file:PATH`, src/config/secret-ref.ts) to a service-account key JSON, resolved when the store is opened. */
  credentials?: string;
  chunkSize?: number;
  /** Parts in flight of a parallel composite upload; 1: one resumable upload (gcs-driver.ts). */
  parallelParts?: number;
  /** Install blobgate's bucket lifecycle rules at start-up. */
  installLifecycle?: boolean;
}

/** Reads `stores.<name>` of a GCS store; problems go to the reader, with their key paths. */
export function parseGcsStore(s: Reader, at: { cwd: string }): GcsStoreConfig {
  s.only(['driver', 'bucket', 'project-id', 'api-endpoint', 'prefix', 'credentials', 'chunk-size', 'parallel-parts', 'install-lifecycle']);
  return {
    driver: 'gcs',
    bucket: s.string('bucket', true) ?? '',
    ...opt('projectId', s.string('project-id')),
    ...opt('apiEndpoint', endpointUrl(s, 'api-endpoint', false)),
    ...opt('prefix', s.string('prefix')),
    ...opt('credentials', storeCredential(s, 'credentials', at.cwd)),
    ...opt('chunkSize', chunkSize(s)),
    ...opt('parallelParts', s.int('parallel-parts', 1, MAX_PARALLEL_PARTS)),
    ...opt('installLifecycle', s.boolean('install-lifecycle')),
  };
}

/** The driver refuses (a RangeError at start-up) a chunk size that is not a whole number of CHUNK_ALIGN: say so here, with the key. */
function chunkSize(s: Reader): number | undefined {
  const size = s.int('chunk-size', CHUNK_ALIGN, MAX_CHUNK_SIZE);
  if (size !== undefined && size % CHUNK_ALIGN !== 0) {
    s.problem('chunk-size', `must be a multiple of ${CHUNK_ALIGN} (256 KiB), e.g. ${Math.ceil(size / CHUNK_ALIGN) * CHUNK_ALIGN}`);
  }
  return size;
}
