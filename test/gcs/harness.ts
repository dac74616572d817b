// Shared by the GCS driver tests (not a test file itself): the project's GCS
// test server on 127.0.0.1, a client pointed at it, and a driver.
import { Readable } from 'node:stream';
import type { Test } from 'tap';
import type { Storage } from '@google-cloud/storage';
import { buildGcsStorage, type GcsRetryTiming, type GcsServiceAccountKey } from '../../src/storage/gcs/client.js';
import type { BufferBudget } from '../../src/storage/buffer-budget.js';
import { GcsDriver } from '../../src/storage/gcs/gcs-driver.js';
import { STAGING_DIR } from '../../src/storage/gcs/gcs-staging.js';
import { type GcsTestServer, startGcsServer } from '../../support/servers/gcs/server.js';
import { testServiceAccount } from '../../support/servers/gcs/service-account.js';
import { bypassProxyForLoopback } from '../gcs-server/util.js';
import { patternChunk } from '../helpers/bytes.js';

delete process.env.STORAGE_EMULATOR_HOST; // the client must use apiEndpoint
bypassProxyForLoopback();

/** The smallest chunk GCS allows: many chunks per test body, quickly. */
export const CHUNK = 256 * 1024;

/**
 * Every retry after 1 s, the shortest the client allows (its async-retry
 * paths, File.save and createResumableUpload, wait at least 1 s and throw
 * "minTimeout is greater than maxTimeout" below it): for tests that prove
 * which requests the client retries and how often, without the production
 * backoff (about 1-2 s, then 2-3 s, then 4-5 s). Only the delays change.
 */
export const FAST_RETRIES: GcsRetryTiming = Object.freeze({ maxRetryDelay: 1, retryDelayMultiplier: 1 });

export interface GcsHarness {
  server: GcsTestServer;
  bucket: string;
  serviceAccount: GcsServiceAccountKey;
  /** The client every driver of this harness shares (as the drivers of one store do). */
  storage: Storage;
  /** A driver on the server's bucket (chunk size CHUNK unless given). */
  driver(opts?: { prefix?: string; chunkSize?: number; bucket?: string; parallelParts?: number; buffers?: BufferBudget }): GcsDriver;
  /** Open resumable sessions and staging objects: what no finished or failed write may leave. */
  leftovers(): string[];
}

/**
 * Starts a server (stopped at the end of `t`) that verifies V4 signatures
 * against a service-account key generated here, with one bucket. The
 * client retries with the production backoff unless `retryTiming` is given.
 */
export async function startGcs(t: Test, bucket = 'bg-test', opts: { retryTiming?: GcsRetryTiming } = {}): Promise<GcsHarness> {
  const clientEmail = 'blobgate-test@test.iam.gserviceaccount.com';
  const { key: serviceAccount, publicKeyPem } = testServiceAccount(clientEmail);
  const server = await startGcsServer({
    host: '127.0.0.1',
    serviceAccountPublicKeyPem: publicKeyPem,
    clientEmail,
  });
  t.teardown(() => server.stop());
  server.createBucket(bucket);
  const storage = buildGcsStorage({
    apiEndpoint: server.url,
    projectId: 'test',
    credentials: serviceAccount,
    ...(opts.retryTiming === undefined ? {} : { retryTiming: opts.retryTiming }),
  });
  return {
    server,
    bucket,
    serviceAccount,
    storage,
    driver: (opts = {}) =>
      new GcsDriver({
        storage,
        bucket: opts.bucket ?? bucket,
        chunkSize: opts.chunkSize ?? CHUNK,
        ...(opts.prefix ? { prefix: opts.prefix } : {}),
        ...(opts.parallelParts === undefined ? {} : { parallelParts: opts.parallelParts }),
        ...(opts.buffers === undefined ? {} : { buffers: opts.buffers }),
      }),
    leftovers: () => [
      ...server.openSessions().map((s) => `session ${s.bucket}/${s.name} (${s.received} bytes received)`),
      ...server.objectNames(bucket).filter((n) => n.includes(STAGING_DIR)).map((n) => `staging object ${n}`),
    ],
  };
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/**
 * A source that produces `before` pattern bytes, then waits (a pending read)
 * until the test decides what happens next: more bytes, an error, or the end.
 */
export function gatedSource(before: number): {
  body: Readable;
  /** Resolves once all `before` bytes were handed out. */
  drained: Promise<void>;
  more(n: number): void;
  fail(err: Error): void;
} {
  let offset = 0;
  let waiting = false;
  let signalDrained!: () => void;
  const drained = new Promise<void>((r) => (signalDrained = r));
  const body = new Readable({
    read() {
      if (offset >= before) {
        waiting = true;
        signalDrained();
        return;
      }
      const n = Math.min(64 * 1024, before - offset);
      this.push(patternChunk(offset, n));
      offset += n;
    },
  });
  return {
    body,
    drained,
    more(n: number) {
      if (!waiting) throw new Error('gatedSource.more() before the gate was reached');
      body.push(patternChunk(offset, n));
      offset += n;
    },
    fail(err: Error) {
      body.destroy(err);
    },
  };
}

/** Polls until `cond` holds (or fails the wait after `ms`). */
export async function until(cond: () => boolean, what: string, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(10);
  }
}
