import t from 'tap';
import type { ObjectMetaInit } from '../../src/storage/driver.js';
import { S3Driver } from '../../src/storage/s3/s3-driver.js';
import { contentDisposition } from '../../src/storage/disposition.js';
import { patternSha256, patternStream, sha256 } from '../helpers/bytes.js';
import { startProxiedS3 } from '../../support/servers/s3/proxied.js';

// `download: true` signs a response-content-disposition override; the
// response carries Content-Disposition: attachment with the filename in
// ASCII and RFC 8187 UTF-8 forms. (fauxqs ignores the override; the verifying
// proxy applies it to validly signed GETs, as S3 does.)

const bucket = 'bg-download';
const env = await startProxiedS3(bucket);
t.teardown(() => env.stop());
const driver = new S3Driver({ client: env.client(), bucket, prefix: 'env-d/' });
t.teardown(() => driver.close());
const META: ObjectMetaInit = { contentType: 'text/csv', tier: 'retained', createdAt: '2026-11-22T10:00:00.000Z' };
const key = 'workspaces/ws-1/exports/résumé 2026.csv';
await driver.write({ key, body: patternStream(4096), maxBytes: 4096, meta: META, signal: new AbortController().signal });

t.test('download: attachment named after the key', async (t) => {
  const url = new URL(await driver.signUrl({ key, expiresInSeconds: 300, download: true }));
  t.equal(url.searchParams.get('response-content-disposition'), `attachment; filename="r_sum_ 2026.csv"; filename*=UTF-8''r%C3%A9sum%C3%A9%202026.csv`);
  const res = await fetch(url);
  t.equal(res.status, 200);
  t.equal(res.headers.get('content-disposition'), `attachment; filename="r_sum_ 2026.csv"; filename*=UTF-8''r%C3%A9sum%C3%A9%202026.csv`);
  t.equal(res.headers.get('content-type'), 'text/csv');
  t.equal(sha256(Buffer.from(await res.arrayBuffer())), patternSha256(4096));
});

t.test('download with an explicit filename', async (t) => {
  const res = await fetch(await driver.signUrl({ key, expiresInSeconds: 300, download: true, filename: 'Q1 "final" (v2)*.csv' }));
  t.equal(res.status, 200);
  t.equal(res.headers.get('content-disposition'), `attachment; filename="Q1 _final_ (v2)*.csv"; filename*=UTF-8''Q1%20%22final%22%20%28v2%29%2A.csv`);
  await res.arrayBuffer();
});

t.test('a filename without download is inline', async (t) => {
  const res = await fetch(await driver.signUrl({ key, expiresInSeconds: 300, filename: 'view.csv' }));
  t.equal(res.status, 200);
  t.equal(res.headers.get('content-disposition'), `inline; filename="view.csv"; filename*=UTF-8''view.csv`);
  await res.arrayBuffer();
});

t.test('contentDisposition edge cases', async (t) => {
  t.equal(contentDisposition({}, 'a/b'), undefined);
  t.equal(contentDisposition({ download: true }, 'a/'), 'attachment');
  t.equal(contentDisposition({ download: true, filename: "it's" }, 'x'), `attachment; filename="it's"; filename*=UTF-8''it%27s`);
  t.equal(contentDisposition({ download: true, filename: '100%\\x' }, 'x'), `attachment; filename="100__x"; filename*=UTF-8''100%25%5Cx`);
});
