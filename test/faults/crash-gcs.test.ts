import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { CHUNK, startGcs } from '../gcs/harness.js';
import { crashScenario } from './crash-scenario.js';

crashScenario(t, 'gcs', async () => {
  const gcs = await startGcs(t, 'bg-crash');
  const dir = await mkdtemp(join(tmpdir(), 'bg-gcs-key-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  await writeFile(join(dir, 'sa.json'), JSON.stringify(gcs.serviceAccount), { mode: 0o600 });
  const store = { driver: 'gcs', bucket: gcs.bucket, 'project-id': 'test', 'api-endpoint': gcs.server.url, 'chunk-size': CHUNK, credentials: `file:${join(dir, 'sa.json')}` };
  return {
    config: { stores: { bg: store }, tiers: { retained: { store: 'bg' }, ephemeral: { store: 'bg' } }, janitor: { 'grace-seconds': 1, 'sweep-interval-seconds': 1 } },
    unit: CHUNK,
    writing: async () => gcs.server.openSessions(gcs.bucket).some((s) => s.received >= CHUNK),
    leftovers: async () => gcs.leftovers(),
  };
});
