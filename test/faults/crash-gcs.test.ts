import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { CHUNK, startGcs } from '../gcs/harness.js';
import { crashScenario } from './crash-scenario.js';

// Both write paths: parallel composite uploads (the default: part objects under the staging
// name, which the sweep must find) and the resumable upload (parallel-parts 1: a session and its record).
for (const parallelParts of [4, 1]) {
  crashScenario(t, `gcs, parallel-parts ${parallelParts}`, async () => {
    const gcs = await startGcs(t, 'bg-crash');
    const dir = await mkdtemp(join(tmpdir(), 'bg-gcs-key-'));
    t.teardown(() => rm(dir, { recursive: true, force: true }));
    await writeFile(join(dir, 'sa.json'), JSON.stringify(gcs.serviceAccount), { mode: 0o600 });
    const store = { driver: 'gcs', bucket: gcs.bucket, 'project-id': 'test', 'api-endpoint': gcs.server.url, 'chunk-size': CHUNK, 'parallel-parts': parallelParts, credentials: `file:${join(dir, 'sa.json')}` };
    const parts = (): string[] => gcs.server.objectNames(gcs.bucket).filter((n) => n.includes('.blobgate-staging/') && n.includes('/part-'));
    return {
      config: { stores: { bg: store }, tiers: { retained: { store: 'bg' }, ephemeral: { store: 'bg' } }, janitor: { 'grace-seconds': 1, 'sweep-interval-seconds': 1 } },
      unit: CHUNK,
      writing: async () => (parallelParts > 1 ? parts().length >= 1 : gcs.server.openSessions(gcs.bucket).some((s) => s.received >= CHUNK)),
      leftovers: async () => gcs.leftovers(),
    };
  });
}
