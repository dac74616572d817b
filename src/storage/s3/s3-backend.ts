import { resolveConfigSecret } from '../../config/secret-ref.js';
import type { StorageDriver } from '../driver.js';
import type { Janitor } from '../janitor.js';
import { parseS3Store, type S3StoreConfig } from './s3-config.js';

/**
 * The S3 backend for the registry's table (src/storage/registry.ts): reads
 * its config section (s3-config.ts) and, when a store is opened, resolves its
 * credential references, builds the client (client.ts) and the driver.
 *
 * The SDK and the driver are imported only here, when an S3 store is opened:
 * the SDK costs ~23 MiB of resident memory at rest, which a gateway without an
 * S3 store should not carry.
 */
export const s3Backend = {
  parse: parseS3Store,

  async open(store: S3StoreConfig, ctx: { janitor: Janitor }): Promise<StorageDriver> {
    const c = store.credentials;
    const credentials = c
      ? {
          accessKeyId: await resolveConfigSecret(c.accessKeyId),
          secretAccessKey: await resolveConfigSecret(c.secretAccessKey),
          ...(c.sessionToken ? { sessionToken: await resolveConfigSecret(c.sessionToken) } : {}),
        }
      : undefined;
    const [{ buildS3Client }, { S3Driver }] = await Promise.all([import('./client.js'), import('./s3-driver.js')]);
    const client = buildS3Client({
      region: store.region,
      ...(store.endpoint ? { endpoint: store.endpoint } : {}),
      ...(store.forcePathStyle !== undefined ? { forcePathStyle: store.forcePathStyle } : {}),
      ...(credentials ? { credentials } : {}),
      ...(store.checksumMode ? { checksumMode: store.checksumMode } : {}),
    });
    return new S3Driver({
      client,
      janitor: ctx.janitor,
      bucket: store.bucket,
      ...(store.prefix ? { prefix: store.prefix } : {}),
      ...(store.partSize ? { partSize: store.partSize } : {}),
      ...(store.queueSize ? { queueSize: store.queueSize } : {}),
    });
  },
};
