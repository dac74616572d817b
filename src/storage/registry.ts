import type { Config, StoreConfig } from '../config/types.js';
import { BlobgateError } from '../errors.js';
import type { StorageDriver } from './driver.js';
import { type CleanupCounts, Janitor, type JanitorEvent } from './janitor.js';
import { resolveConfigSecret } from '../config/secret-ref.js';
import { LocalDriver } from './local/local-driver.js';

/**
 * The one place that turns store config into drivers (docs/architecture.md#configuration:
 * drivers receive ready clients; only the registry reads config).
 *
 * The S3 and GCS drivers, and their SDKs, are loaded only when a store of
 * that kind is configured: the SDKs cost ~23 MiB (S3) and ~33 MiB (GCS) of
 * resident memory at rest, which a gateway on the local store alone (the
 * default) or on one cloud should not carry.
 */
export class StoreRegistry {
  private constructor(private readonly drivers: ReadonlyMap<string, StorageDriver>) {}

  /** `cleanLocalTmp: false` when another process (a running gateway) may be writing to the same local stores. */
  static async open(config: Config, opts: { cleanLocalTmp?: boolean } = {}): Promise<StoreRegistry> {
    const drivers = new Map<string, StorageDriver>();
    try {
      for (const [name, store] of Object.entries(config.stores)) {
        drivers.set(name, await openDriver(store, opts.cleanLocalTmp ?? true, janitorFor(name, config)));
      }
    } catch (err) {
      await Promise.allSettled([...drivers.values()].map((d) => d.close()));
      throw err;
    }
    return new StoreRegistry(drivers);
  }

  /** Wraps ready drivers (tests and tools that build drivers themselves). */
  static of(drivers: Record<string, StorageDriver>): StoreRegistry {
    return new StoreRegistry(new Map(Object.entries(drivers)));
  }

  get(name: string): StorageDriver {
    const driver = this.drivers.get(name);
    if (!driver) throw new BlobgateError('not_found', `No store named "${name}" is configured.`, { store: name });
    return driver;
  }

  has(name: string): boolean {
    return this.drivers.has(name);
  }

  entries(): Array<[string, StorageDriver]> {
    return [...this.drivers.entries()];
  }

  /** Each store's cleanup counts (src/storage/janitor.ts), for the metrics. */
  cleanupCounts(): Array<{ store: string; counts: CleanupCounts }> {
    return this.janitors().map(([store, j]) => ({ store, counts: j.counts() }));
  }

  /** Subscribes to every store's janitor events (one per failed cleanup, recovery, sweep). Returns the unsubscribe. */
  onCleanupEvent(listener: (e: JanitorEvent) => void): () => void {
    const offs = this.janitors().map(([, j]) => j.onEvent(listener));
    return () => offs.forEach((off) => off());
  }

  /**
   * Starts every store's sweep of crash debris: now, then periodically
   * (`janitor.sweep-interval-seconds`). Only a serving gateway calls this,
   * before it starts serving (a local store's first sweep counts on no write
   * being under way); tools that open the stores for a moment do not sweep.
   */
  startJanitors(): void {
    for (const [, driver] of this.drivers) {
      const { janitor, sweepDebris } = driver;
      if (janitor && sweepDebris) janitor.start((olderThan) => sweepDebris.call(driver, olderThan));
    }
  }

  private janitors(): Array<[string, Janitor]> {
    return [...this.drivers.entries()].flatMap(([name, d]): Array<[string, Janitor]> => (d.janitor ? [[name, d.janitor]] : []));
  }

  async close(): Promise<void> {
    await Promise.allSettled([...this.drivers.values()].map((d) => d.close()));
  }
}

function janitorFor(store: string, config: Config): Janitor {
  const j = config.janitor;
  return new Janitor({
    store,
    graceMs: j.graceSeconds * 1000,
    sweepIntervalMs: j.sweepIntervalSeconds * 1000,
    retryMaxMs: j.retryMaxSeconds * 1000,
    maxPending: j.maxPending,
  });
}

async function openDriver(store: StoreConfig, cleanLocalTmp: boolean, janitor: Janitor): Promise<StorageDriver> {
  switch (store.driver) {
    case 'local':
      return LocalDriver.open({ root: store.root, cleanTmp: cleanLocalTmp, janitor, ...(store.prefix ? { prefix: store.prefix } : {}) });
    case 's3': {
      const c = store.credentials;
      const credentials = c
        ? {
            accessKeyId: await resolveConfigSecret(c.accessKeyId),
            secretAccessKey: await resolveConfigSecret(c.secretAccessKey),
            ...(c.sessionToken ? { sessionToken: await resolveConfigSecret(c.sessionToken) } : {}),
          }
        : undefined;
      const [{ buildS3Client }, { S3Driver }] = await Promise.all([import('./s3/client.js'), import('./s3/s3-driver.js')]);
      const client = buildS3Client({
        region: store.region,
        ...(store.endpoint ? { endpoint: store.endpoint } : {}),
        ...(store.forcePathStyle !== undefined ? { forcePathStyle: store.forcePathStyle } : {}),
        ...(credentials ? { credentials } : {}),
        ...(store.checksumMode ? { checksumMode: store.checksumMode } : {}),
      });
      return new S3Driver({
        client,
        janitor,
        bucket: store.bucket,
        ...(store.prefix ? { prefix: store.prefix } : {}),
        ...(store.partSize ? { partSize: store.partSize } : {}),
        ...(store.queueSize ? { queueSize: store.queueSize } : {}),
      });
    }
    case 'gcs': {
      const [{ buildGcsStorage, parseServiceAccountKey }, { GcsDriver }] = await Promise.all([import('./gcs/client.js'), import('./gcs/gcs-driver.js')]);
      const credentials = store.credentials ? parseServiceAccountKey(await resolveConfigSecret(store.credentials)) : undefined;
      const storage = buildGcsStorage({
        ...(store.projectId ? { projectId: store.projectId } : {}),
        ...(store.apiEndpoint ? { apiEndpoint: store.apiEndpoint } : {}),
        ...(credentials ? { credentials } : {}),
      });
      return new GcsDriver({
        storage,
        janitor,
        bucket: store.bucket,
        ...(store.prefix ? { prefix: store.prefix } : {}),
        ...(store.chunkSize ? { chunkSize: store.chunkSize } : {}),
      });
    }
  }
}
