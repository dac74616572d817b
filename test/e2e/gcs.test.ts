import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { startGcs } from '../gcs/harness.js';
import { storeE2E } from './store-e2e.js';

const CHUNK = 256 * 1024;

storeE2E(t, 'gcs', async () => {
  const gcs = await startGcs(t, 'bg-e2e');
  // The gateway reads the service-account key through a config secret reference (file:).
  const dir = await mkdtemp(join(tmpdir(), 'bg-gcs-key-'));
  const keyFile = join(dir, 'sa.json');
  await writeFile(keyFile, JSON.stringify(gcs.serviceAccount), { mode: 0o600 });
  return {
    store: { driver: 'gcs', bucket: gcs.bucket, 'project-id': 'test', 'api-endpoint': gcs.server.url, 'chunk-size': CHUNK, credentials: `file:${keyFile}` },
    unit: CHUNK,
    backend: 'gcs',
    bucket: gcs.bucket,
    leftovers: async () => gcs.leftovers(),
    objectNames: async () => gcs.server.objectNames(gcs.bucket).sort(),
    stop: async () => undefined,
  };
});
