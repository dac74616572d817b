import { resolveConfigSecret } from '../../config/secret-ref.js';
import type { StorageDriver } from '../driver.js';
import type { BufferBudget } from '../buffer-budget.js';
import type { Janitor } from '../janitor.js';
import type { CredentialRef } from '../registry.js';
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

  describe: (store: S3StoreConfig): string => `s3, bucket ${store.bucket}${store.endpoint ? ` at ${store.endpoint}` : ''}`,

  credentialRefs(store: S3StoreConfig): CredentialRef[] {
    const c = store.credentials;
    if (!c) return [];
    return [
      { at: 'credentials.access-key-id', ref: c.accessKeyId },
      { at: 'credentials.secret-access-key', ref: c.secretAccessKey },
      ...(c.sessionToken !== undefined ? [{ at: 'credentials.session-token', ref: c.sessionToken }] : []),
    ];
  },

  wantsLifecycle: (store: S3StoreConfig): boolean => store.installLifecycle === true,

  async open(store: S3StoreConfig, ctx: { janitor: Janitor; buffers: BufferBudget }): Promise<StorageDriver> {
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
      buffers: ctx.buffers,
      bucket: store.bucket,
      ...(store.prefix ? { prefix: store.prefix } : {}),
      ...(store.partSize ? { partSize: store.partSize } : {}),
      ...(store.queueSize ? { queueSize: store.queueSize } : {}),
    });
  },
};
