import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { CHUNK, startGcs } from '../gcs/harness.js';
import { replicaScenario } from './replicas-scenario.js';

replicaScenario(t, 'gcs', async () => {
  const gcs = await startGcs(t, 'bg-replicas');
  const dir = await mkdtemp(join(tmpdir(), 'bg-gcs-key-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  await writeFile(join(dir, 'sa.json'), JSON.stringify(gcs.serviceAccount), { mode: 0o600 });
  const store = { driver: 'gcs', bucket: gcs.bucket, 'project-id': 'test', 'api-endpoint': gcs.server.url, 'chunk-size': CHUNK, credentials: `file:${join(dir, 'sa.json')}` };
  return {
    config: { stores: { bg: store }, tiers: { retained: { store: 'bg' }, ephemeral: { store: 'bg' } } },
    size: 4 * CHUNK,
    blobs: async () => gcs.server.objectNames(gcs.bucket).filter((n) => n.startsWith('workspaces/')),
    leftovers: async () => gcs.leftovers(),
  };
});
