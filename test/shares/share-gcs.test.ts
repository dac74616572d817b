import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { shareTokenHash } from '../../src/shares/token.js';
import { startGcs } from '../gcs/harness.js';
import { startGateway } from '../helpers/gateway.js';
import { getPublic, putBytes, revoke, share } from './share-helpers.js';

/** Share links on GCS (the project's GCS server): two gateways over one bucket are two replicas. */
const gcs = await startGcs(t, 'bg-shares');
const dir = await mkdtemp(join(tmpdir(), 'bg-gcs-key-'));
await writeFile(join(dir, 'sa.json'), JSON.stringify(gcs.serviceAccount), { mode: 0o600 });
const store = { driver: 'gcs', bucket: gcs.bucket, prefix: 'gw/', 'project-id': 'test', 'api-endpoint': gcs.server.url, credentials: `file:${join(dir, 'sa.json')}` };
const file = { stores: { bg: store }, tiers: { retained: { store: 'bg' }, ephemeral: { store: 'bg' } } };
const a = await startGateway(file);
const b = await startGateway(file);
t.teardown(async () => {
  await a.close();
  await b.close();
  await rm(dir, { recursive: true, force: true });
});

t.test('create on A, preview and download on B, revoke on B, 404 on A; the record is keyed by the hash', async (t) => {
  const JSON_BODY = '{"who":"Ana","followers":1200}';
  const uri = await putBytes(a, 'ana.json', 'application/json', JSON_BODY);
  const created = await share(a, { uri, allowDownload: true });
  t.equal(created.status, 201, JSON.stringify(created.json));
  const { token } = created.json;
  const page = await getPublic(`${b.url}/public/artifact-previews/${token}`);
  t.equal(page.status, 200);
  t.match(page.text, '<pre>{\n  &quot;who&quot;: &quot;Ana&quot;,');
  for (const banned of ['res://', 'X-Goog', new URL(gcs.server.url).host, gcs.bucket, 'ws-1']) t.notOk(page.text.includes(banned), `no ${banned}`);
  const download = await getPublic(`${b.url}/public/artifact-previews/${token}/download`);
  t.equal(download.text, JSON_BODY);
  t.same(
    gcs.server.objectNames(gcs.bucket).filter((n) => n.includes('shares/')),
    [`gw/.blobgate-records/shares/${shareTokenHash(token)}.json`],
  );
  t.equal((await revoke(b, token)).status, 204);
  t.equal((await getPublic(created.json.publicUrl)).status, 404);
  t.equal((await getPublic(created.json.publicDownloadUrl)).status, 404);
  t.same(gcs.server.objectNames(gcs.bucket).filter((n) => n.includes('shares/')), []);
});
