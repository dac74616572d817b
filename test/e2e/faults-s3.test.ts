import { ListObjectsV2Command } from '@aws-sdk/client-s3';
import t from 'tap';
import { TEST_CREDENTIALS } from '../../support/servers/s3/clients.js';
import { startProxiedS3 } from '../../support/servers/s3/proxied.js';
import { startFaultUpstream } from '../helpers/fault-upstream.js';
import { startGateway } from '../helpers/gateway.js';
import { faultScenarios } from './fault-scenarios.js';

const BUCKET = 'bg-faults';
const s3 = await startProxiedS3(BUCKET);
process.env.BG_TEST_S3_KEY = TEST_CREDENTIALS.accessKeyId;
process.env.BG_TEST_S3_SECRET = TEST_CREDENTIALS.secretAccessKey;
const store = {
  driver: 's3',
  bucket: BUCKET,
  endpoint: s3.proxy.endpoint,
  'force-path-style': true,
  'part-size': 5 * 1024 * 1024,
  credentials: { 'access-key-id': 'env:BG_TEST_S3_KEY', 'secret-access-key': 'env:BG_TEST_S3_SECRET' },
};
const gw = await startGateway({ stores: { bg: store }, tiers: { retained: { store: 'bg' }, ephemeral: { store: 'bg' } } });
const fu = await startFaultUpstream();
t.teardown(async () => {
  await gw.close();
  await fu.stop();
  await s3.stop();
});

async function snapshot(): Promise<unknown> {
  const page = await s3.direct.send(new ListObjectsV2Command({ Bucket: BUCKET }));
  return { objects: (page.Contents ?? []).map((o) => o.Key).sort(), uploads: s3.server.multipartUploads(BUCKET).map((u) => u.key) };
}
// 11 MiB: three 5 MiB parts, so failures hit a multipart upload in progress.
faultScenarios(t, () => ({ gw, fu, snapshot, size: 11 * 1024 * 1024 + 123 }));
