import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { startGcs } from '../gcs/harness.js';
import { startFaultUpstream } from '../helpers/fault-upstream.js';
import { startGateway } from '../helpers/gateway.js';
import { faultScenarios } from './fault-scenarios.js';

const gcs = await startGcs(t, 'bg-faults');
const dir = await mkdtemp(join(tmpdir(), 'bg-gcs-key-'));
await writeFile(join(dir, 'sa.json'), JSON.stringify(gcs.serviceAccount), { mode: 0o600 });
// 256 KiB chunks: the 3 MiB bodies go up as parallel composite uploads of many parts (the
// ephemeral cap is 256 MiB: under a 4 GiB cap a part would be at least 4 MiB, gcs-write.ts
// composablePartSize).
const store = { driver: 'gcs', bucket: gcs.bucket, 'project-id': 'test', 'api-endpoint': gcs.server.url, 'chunk-size': 256 * 1024, credentials: `file:${join(dir, 'sa.json')}` };
const gw = await startGateway({ stores: { bg: store }, tiers: { retained: { store: 'bg' }, ephemeral: { store: 'bg', 'cap-bytes': 256 * 1024 * 1024 } } });
const fu = await startFaultUpstream();
t.teardown(async () => {
  await gw.close();
  await fu.stop();
});

faultScenarios(t, () => ({
  gw,
  fu,
  snapshot: async () => ({ objects: gcs.server.objectNames(gcs.bucket).sort(), debris: gcs.leftovers() }),
}));
