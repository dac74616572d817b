import { GetObjectCommand, ListObjectsV2Command } from '@aws-sdk/client-s3';
import t from 'tap';
import { shareTokenHash } from '../../src/shares/token.js';
import { TEST_CREDENTIALS } from '../../support/servers/s3/clients.js';
import { startProxiedS3 } from '../../support/servers/s3/proxied.js';
import { startGateway } from '../helpers/gateway.js';
import { getPublic, putBytes, revoke, share } from './share-helpers.js';

/**
 * Share links on S3 (fauxqs behind the SigV4-verifying proxy): two gateways
 * over one bucket are two replicas; the share's record is an object of the
 * bucket's records tree, keyed by the token's hash.
 */
const BUCKET = 'bg-shares';
const s3 = await startProxiedS3(BUCKET);
process.env.BG_TEST_S3_KEY = TEST_CREDENTIALS.accessKeyId;
process.env.BG_TEST_S3_SECRET = TEST_CREDENTIALS.secretAccessKey;
const store = {
  driver: 's3',
  bucket: BUCKET,
  prefix: 'gw/',
  endpoint: s3.proxy.endpoint,
  'force-path-style': true,
  credentials: { 'access-key-id': 'env:BG_TEST_S3_KEY', 'secret-access-key': 'env:BG_TEST_S3_SECRET' },
};
const file = { stores: { bg: store }, tiers: { retained: { store: 'bg' }, ephemeral: { store: 'bg' } } };
const a = await startGateway(file);
const b = await startGateway(file);
t.teardown(async () => {
  await a.close();
  await b.close();
  await s3.stop();
});

const CSV = 'Who,Followers\nAna,1200\n';

t.test('create on A, preview and download on B, revoke on B, 404 on A; the record is keyed by the hash', async (t) => {
  const uri = await putBytes(a, 'people.csv', 'text/csv', CSV);
  const created = await share(a, { uri, title: 'People', allowDownload: true });
  t.equal(created.status, 201, JSON.stringify(created.json));
  const { token } = created.json;
  const onB = (suffix = '') => getPublic(`${b.url}/public/artifact-previews/${token}${suffix}`);
  const page = await onB();
  t.equal(page.status, 200);
  t.match(page.text, '<tr><td>Ana</td><td>1200</td></tr>');
  for (const banned of ['res://', 'X-Amz', new URL(s3.proxy.endpoint).host, new URL(s3.server.endpoint).host, BUCKET, 'ws-1']) {
    t.notOk(page.text.includes(banned), `no ${banned} in the page`);
  }
  const download = await onB('/download');
  t.equal(download.text, CSV);
  t.match(download.headers.get('content-disposition'), /^attachment; filename="people.csv"/);
  for (const [name] of download.headers) t.notMatch(name, /^x-amz-/, `no ${name}`);

  const listed = await s3.direct.send(new ListObjectsV2Command({ Bucket: BUCKET, Prefix: 'gw/.blobgate-records/shares/' }));
  t.same((listed.Contents ?? []).map((o) => o.Key), [`gw/.blobgate-records/shares/${shareTokenHash(token)}.json`]);
  const all = await s3.direct.send(new ListObjectsV2Command({ Bucket: BUCKET }));
  for (const o of all.Contents ?? []) {
    const body = await (await s3.direct.send(new GetObjectCommand({ Bucket: BUCKET, Key: o.Key! }))).Body!.transformToString('latin1');
    t.notOk(body.includes(token), `${o.Key} does not hold the token`);
  }

  t.equal((await revoke(b, token)).status, 204);
  t.equal((await getPublic(created.json.publicUrl)).status, 404, 'A refuses at once');
  t.equal((await getPublic(created.json.publicDownloadUrl)).status, 404);
  const after = await s3.direct.send(new ListObjectsV2Command({ Bucket: BUCKET, Prefix: 'gw/.blobgate-records/shares/' }));
  t.same(after.Contents ?? [], [], 'the record is gone');
});

t.test('a share record is never listed as a resource', async (t) => {
  const uri = await putBytes(a, 'x.md', 'text/markdown', '# x');
  t.equal((await share(a, { uri })).status, 201);
  const list = await a.call('GET', '/v1/workspaces/ws-1/resources');
  t.equal(list.status, 200);
  t.notOk(JSON.stringify(list.json).includes('blobgate-records'));
});
