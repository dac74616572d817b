// /readyz tells a missing bucket (blobgate never creates buckets) from a
// store it cannot reach.
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { startGcs } from '../gcs/harness.js';
import { startGateway } from '../helpers/gateway.js';
import { TEST_CREDENTIALS } from '../../support/servers/s3/clients.js';
import { startS3Server } from '../../support/servers/s3/fauxqs.js';

const s3 = await startS3Server();
s3.createBucket('bg-here');
const gcs = await startGcs(t, 'bg-gcs-here');
const dir = await mkdtemp(join(tmpdir(), 'bg-ready-'));
await writeFile(join(dir, 'sa.json'), JSON.stringify(gcs.serviceAccount), { mode: 0o600 });
process.env.BG_TEST_S3_KEY = TEST_CREDENTIALS.accessKeyId;
process.env.BG_TEST_S3_SECRET = TEST_CREDENTIALS.secretAccessKey;
const credentials = { 'access-key-id': 'env:BG_TEST_S3_KEY', 'secret-access-key': 'env:BG_TEST_S3_SECRET' };
const s3Store = (bucket: string, endpoint = s3.endpoint) => ({ driver: 's3', bucket, endpoint, 'force-path-style': true, credentials });
const gcsStore = (bucket: string) => ({ driver: 'gcs', bucket, 'project-id': 'test', 'api-endpoint': gcs.server.url, credentials: `file:${join(dir, 'sa.json')}` });

const gw = await startGateway({
  stores: {
    retained: { driver: 'local' },
    ephemeral: { driver: 'local' },
    's3-ok': s3Store('bg-here'),
    's3-nobucket': s3Store('bg-nowhere'),
    's3-down': s3Store('bg-here', 'http://127.0.0.1:9'),
    'gcs-ok': gcsStore('bg-gcs-here'),
    'gcs-nobucket': gcsStore('bg-gcs-nowhere'),
  },
});
t.teardown(async () => {
  await gw.close();
  await s3.stop();
});

t.test('a missing bucket is bucket_missing, a closed port unreachable, the rest ok', async (t) => {
  const res = await gw.call('GET', '/readyz', undefined, { token: null });
  t.equal(res.status, 503);
  t.same(res.json, {
    status: 'not-ready',
    stores: { retained: 'ok', ephemeral: 'ok', 's3-ok': 'ok', 's3-nobucket': 'bucket_missing', 's3-down': 'unreachable', 'gcs-ok': 'ok', 'gcs-nobucket': 'bucket_missing' },
  });
  const nothingCreated = await gw.call('GET', '/readyz', undefined, { token: null });
  t.equal(nothingCreated.json.stores['s3-nobucket'], 'bucket_missing', 'the probe created no bucket');
  t.notOk(gcs.server.objectNames('bg-gcs-nowhere').length, 'nor a GCS one');
});
