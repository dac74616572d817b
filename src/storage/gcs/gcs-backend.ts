import { resolveConfigSecret } from '../../config/secret-ref.js';
import type { StorageDriver } from '../driver.js';
import type { Janitor } from '../janitor.js';
import { type GcsStoreConfig, parseGcsStore } from './gcs-config.js';

/**
 * The GCS backend for the registry's table (src/storage/registry.ts): reads
 * its config section (gcs-config.ts) and, when a store is opened, resolves
 * its service-account key, builds the client (client.ts) and the driver.
 *
 * The SDK and the driver are imported only here, when a GCS store is opened:
 * the SDK costs ~33 MiB of resident memory at rest, which a gateway without a
 * GCS store should not carry.
 */
export const gcsBackend = {
  parse: parseGcsStore,

  async open(store: GcsStoreConfig, ctx: { janitor: Janitor }): Promise<StorageDriver> {
    const [{ buildGcsStorage, parseServiceAccountKey }, { GcsDriver }] = await Promise.all([import('./client.js'), import('./gcs-driver.js')]);
    const credentials = store.credentials ? parseServiceAccountKey(await resolveConfigSecret(store.credentials)) : undefined;
    const storage = buildGcsStorage({
      ...(store.projectId ? { projectId: store.projectId } : {}),
      ...(store.apiEndpoint ? { apiEndpoint: store.apiEndpoint } : {}),
      ...(credentials ? { credentials } : {}),
    });
    return new GcsDriver({
      storage,
      janitor: ctx.janitor,
      bucket: store.bucket,
      ...(store.prefix ? { prefix: store.prefix } : {}),
      ...(store.chunkSize ? { chunkSize: store.chunkSize } : {}),
    });
  },
};
