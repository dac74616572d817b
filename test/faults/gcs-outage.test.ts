import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { CHUNK, startGcs } from '../gcs/harness.js';
import { outageScenario } from './outage-scenario.js';

// Both write paths. Parallel composite uploads (the default): under the ephemeral tier's
// 4 GiB cap a part is at least 4 MiB (gcs-write.ts composablePartSize), so the chunk is that.
// The resumable upload (parallel-parts 1): 256 KiB chunks.
for (const [parallelParts, unit] of [[4, 4 * 1024 * 1024], [1, CHUNK]] as const) {
  outageScenario(t, `gcs, parallel-parts ${parallelParts}`, async () => {
    const gcs = await startGcs(t, 'bg-outage');
    const dir = await mkdtemp(join(tmpdir(), 'bg-gcs-key-'));
    await writeFile(join(dir, 'sa.json'), JSON.stringify(gcs.serviceAccount), { mode: 0o600 });
    const parts = (): boolean => gcs.server.objectNames(gcs.bucket).some((n) => n.includes('.blobgate-staging/') && n.includes('/part-'));
    return {
      store: { driver: 'gcs', bucket: gcs.bucket, 'project-id': 'test', 'api-endpoint': gcs.server.url, 'chunk-size': unit, 'parallel-parts': parallelParts, credentials: `file:${join(dir, 'sa.json')}` },
      unit,
      writing: () => (parallelParts > 1 ? parts() : gcs.server.openSessions(gcs.bucket).some((s) => s.received >= unit)),
      leftovers: async () => [...gcs.leftovers(), ...gcs.server.objectNames(gcs.bucket).map((n) => `object ${n}`)],
      outage: () => gcs.server.outage(),
      restore: () => gcs.server.restore(),
      stop: async () => undefined,
    };
  });
}
