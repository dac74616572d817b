import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { startGcs } from '../gcs/harness.js';
import { sidecarScenarios } from './search-sidecar-scenarios.js';

sidecarScenarios(t, 'gcs', async () => {
  const gcs = await startGcs(t, 'bg-sidecar');
  const dir = await mkdtemp(join(tmpdir(), 'bg-gcs-key-'));
  await writeFile(join(dir, 'sa.json'), JSON.stringify(gcs.serviceAccount), { mode: 0o600 });
  return {
    section: { driver: 'gcs', bucket: gcs.bucket, 'project-id': 'test', 'api-endpoint': gcs.server.url, credentials: `file:${join(dir, 'sa.json')}` },
    outage: { start: () => gcs.server.outage(), end: () => gcs.server.restore() },
    stop: () => rm(dir, { recursive: true, force: true }),
  };
});
