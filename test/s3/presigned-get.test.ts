import { Readable } from 'node:stream';
import t from 'tap';
import type { ObjectMetaInit } from '../../src/storage/driver.js';
import { S3Driver } from '../../src/storage/s3/s3-driver.js';
import { patternChunk, patternSha256, patternStream, sha256 } from '../helpers/bytes.js';
import { startProxiedS3 } from '../../support/servers/s3/proxied.js';

// A presigned URL from the driver, fetched through the SigV4-verifying proxy:
// 200 with exactly the stored bytes, and Range works on it.

const bucket = 'bg-presign';
const env = await startProxiedS3(bucket);
t.teardown(() => env.stop());
const driver = new S3Driver({ client: env.client(), bucket, prefix: 'env-p' });
t.teardown(() => driver.close());
const META: ObjectMetaInit = { contentType: 'application/octet-stream', tier: 'retained', createdAt: '2026-11-22T10:00:00.000Z' };
const size = 3 * 1024 * 1024 + 5;
const key = 'workspaces/ws-1/dir/ümlaut file (1).bin';
await driver.write({ key, body: patternStream(size), maxBytes: size, meta: META, signal: new AbortController().signal });

t.test('an untampered presigned URL serves the object', async (t) => {
  const url = new URL(await driver.signUrl({ key, expiresInSeconds: 900 }));
  t.equal(url.host, `127.0.0.1:${env.proxy.port}`, 'the URL points at the S3 endpoint (the proxy)');
  t.equal(url.searchParams.get('X-Amz-Expires'), '900');
  t.equal(url.searchParams.get('X-Amz-SignedHeaders'), 'host');
  const res = await fetch(url);
  t.equal(res.status, 200);
  t.equal(res.headers.get('content-length'), String(size));
  const bytes = Buffer.from(await res.arrayBuffer());
  t.equal(bytes.length, size);
  t.equal(sha256(bytes), patternSha256(size), 'byte-identical (sha256)');
  t.equal(res.headers.get('content-disposition'), null, 'no Content-Disposition unless asked for');
});

t.test('Range requests work on a presigned URL', async (t) => {
  const url = await driver.signUrl({ key, expiresInSeconds: 60 });
  const res = await fetch(url, { headers: { range: 'bytes=1048570-1048589' } });
  t.equal(res.status, 206);
  t.equal(res.headers.get('content-range'), `bytes 1048570-1048589/${size}`);
  t.same(Buffer.from(await res.arrayBuffer()), patternChunk(1_048_570, 20));
  const tail = await fetch(url, { headers: { range: 'bytes=-7' } });
  t.equal(tail.status, 206);
  t.same(Buffer.from(await tail.arrayBuffer()), patternChunk(size - 7, 7));
});

t.test('the proxy refused nothing on the way (driver calls and URLs were all validly signed)', async (t) => {
  t.same([...env.proxy.rejected], []);
});

t.test('an empty object is served too', async (t) => {
  const emptyKey = 'workspaces/ws-1/empty';
  await driver.write({ key: emptyKey, body: Readable.from([]), maxBytes: 10, meta: META, signal: new AbortController().signal });
  const res = await fetch(await driver.signUrl({ key: emptyKey, expiresInSeconds: 60 }));
  t.equal(res.status, 200);
  t.equal((await res.arrayBuffer()).byteLength, 0);
});
