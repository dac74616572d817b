import { resolveConfigSecret } from '../../config/secret-ref.js';
import type { StorageDriver } from '../driver.js';
import type { BufferBudget } from '../buffer-budget.js';
import type { Janitor } from '../janitor.js';
import type { CredentialRef } from '../registry.js';
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

  describe: (store: GcsStoreConfig): string => `gcs, bucket ${store.bucket}${store.apiEndpoint ? ` at ${store.apiEndpoint}` : ''}`,

  credentialRefs(store: GcsStoreConfig): CredentialRef[] {
    if (store.credentials === undefined) return [];
    const ref = store.credentials;
    return [{ at: 'credentials', ref, check: (key) => (isServiceAccountKey(key) ? undefined : `${ref} does not hold a service-account key JSON (client_email, private_key)`) }];
  },

  wantsLifecycle: (store: GcsStoreConfig): boolean => store.installLifecycle === true,

  async open(store: GcsStoreConfig, ctx: { janitor: Janitor; buffers: BufferBudget }): Promise<StorageDriver> {
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
      buffers: ctx.buffers,
      bucket: store.bucket,
      ...(store.prefix ? { prefix: store.prefix } : {}),
      ...(store.chunkSize ? { chunkSize: store.chunkSize } : {}),
      ...(store.parallelParts ? { parallelParts: store.parallelParts } : {}),
    });
  },
};

/** The shape of a service-account key, checked without loading the SDK (client.ts parses it fully when the store opens). */
function isServiceAccountKey(text: string): boolean {
  try {
    const key = JSON.parse(text) as Record<string, unknown>;
    return typeof key.client_email === 'string' && typeof key.private_key === 'string';
  } catch {
    return false;
  }
}
