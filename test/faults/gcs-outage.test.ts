import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { CHUNK, startGcs } from '../gcs/harness.js';
import { outageScenario } from './outage-scenario.js';

outageScenario(t, 'gcs', async () => {
  const gcs = await startGcs(t, 'bg-outage');
  const dir = await mkdtemp(join(tmpdir(), 'bg-gcs-key-'));
  await writeFile(join(dir, 'sa.json'), JSON.stringify(gcs.serviceAccount), { mode: 0o600 });
  return {
    store: { driver: 'gcs', bucket: gcs.bucket, 'project-id': 'test', 'api-endpoint': gcs.server.url, 'chunk-size': CHUNK, credentials: `file:${join(dir, 'sa.json')}` },
    unit: CHUNK,
    writing: () => gcs.server.openSessions(gcs.bucket).some((s) => s.received >= CHUNK),
    leftovers: async () => [...gcs.leftovers(), ...gcs.server.objectNames(gcs.bucket).map((n) => `object ${n}`)],
    outage: () => gcs.server.outage(),
    restore: () => gcs.server.restore(),
    stop: async () => undefined,
  };
});
