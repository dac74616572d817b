import { HeadObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { Readable } from 'node:stream';
import t from 'tap';
import type { ObjectMetaInit } from '../../src/storage/driver.js';
import { S3Driver } from '../../src/storage/s3/s3-driver.js';
import { MIN_PART_SIZE } from '../../src/storage/s3/s3-write.js';
import { patternChunk, patternSha256, patternStream, sha256OfStream, collect } from '../helpers/bytes.js';
import { listedKeys, onWire, recordRequests } from '../../support/servers/s3/clients.js';
import { startProxiedS3 } from '../../support/servers/s3/proxied.js';

// The whole driver through the SigV4-verifying proxy: every header-signed
// request the SDK makes (multipart, copy, list, ranged GET, delete) passes
// verification, payload hashes included; a request changed after signing
// (body, path or a signed header) is refused and never stored.

const MiB = 1024 * 1024;
const bucket = 'bg-headers';
const env = await startProxiedS3(bucket);
t.teardown(() => env.stop());
const client = env.client();
const sent = recordRequests(client);
const driver = new S3Driver({ client, bucket, prefix: 'env-h', partSize: MIN_PART_SIZE });
t.teardown(() => driver.close());
const META: ObjectMetaInit = { contentType: 'application/octet-stream', tier: 'ephemeral', createdAt: '2026-11-22T10:00:00.000Z', expiresAt: '2026-11-23T10:00:00.000Z' };
const signal = new AbortController().signal;

t.test('every driver call passes the verifying proxy', async (t) => {
  const size = 2 * MIN_PART_SIZE + 11;
  const big = 'workspaces/ws-1/big.bin';
  const stored = await driver.write({ key: big, body: patternStream(size), maxBytes: size, meta: META, signal });
  t.equal(stored.meta.sha256, patternSha256(size));
  await driver.write({ key: 'workspaces/ws-1/small.bin', body: patternStream(1000), maxBytes: 1000, meta: META, signal });
  await driver.write({ key: 'workspaces/ws-1/empty.bin', body: Readable.from([]), maxBytes: 0, meta: META, signal });
  t.same(await sha256OfStream((await driver.read(big)).body), { sha256: patternSha256(size), size });
  t.same(await collect((await driver.read(big, { suffix: 5 })).body), patternChunk(size - 5, 5));
  t.same((await driver.list({ prefix: 'workspaces/ws-1/', limit: 2 })).items.map((i) => i.key), ['workspaces/ws-1/big.bin', 'workspaces/ws-1/empty.bin']);
  await driver.delete('workspaces/ws-1/small.bin');
  await driver.ping();
  const commands = new Set(sent.map((r) => r.command));
  for (const c of ['CreateMultipartUpload', 'UploadPart', 'CompleteMultipartUpload', 'DeleteObject', 'PutObject', 'GetObject', 'HeadObject', 'ListObjectsV2', 'HeadBucket']) {
    t.ok(commands.has(c), `${c} went through the proxy`);
  }
  t.ok(sent.filter((r) => r.command === 'UploadPart').every((r) => /^[0-9a-f]{64}$/.test(r.headers['x-amz-content-sha256'] ?? '')), 'parts carry a signed payload hash, which the proxy checked');
  t.same([...env.proxy.rejected], [], 'nothing refused');
});

t.test('a body swapped after signing is refused and not stored', async (t) => {
  const key = 'env-h/workspaces/ws-1/swapped';
  onWire(client, (req, command) => {
    if (command === 'PutObject' && req.path.endsWith('/swapped')) req.body = Buffer.from('evil');
  });
  const err = await client.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: Buffer.from('good') })).catch((e: unknown) => e);
  t.match(err, { name: 'XAmzContentSHA256Mismatch', $metadata: { httpStatusCode: 400 } });
  await t.rejects(env.direct.send(new HeadObjectCommand({ Bucket: bucket, Key: key })), { name: 'NotFound' }, 'fauxqs never got a complete request');
});

t.test('a path or signed header changed after signing is refused', async (t) => {
  onWire(client, (req, command) => {
    if (command === 'PutObject' && req.path.endsWith('/repath-me')) req.path = req.path.replace('repath-me', 'elsewhere');
    if (command === 'PutObject' && req.path.endsWith('/meta-me')) req.headers['x-amz-meta-bg-tier'] = 'retained';
  });
  const repath = await client.send(new PutObjectCommand({ Bucket: bucket, Key: 'env-h/x/repath-me', Body: 'x' })).catch((e: unknown) => e);
  t.match(repath, { name: 'SignatureDoesNotMatch', $metadata: { httpStatusCode: 403 } });
  const meta = await client.send(new PutObjectCommand({ Bucket: bucket, Key: 'env-h/x/meta-me', Body: 'x', Metadata: { 'bg-tier': 'ephemeral' } })).catch((e: unknown) => e);
  t.match(meta, { name: 'SignatureDoesNotMatch', $metadata: { httpStatusCode: 403 } });
  t.same(await listedKeys(env.direct, bucket, 'env-h/x/'), [], 'nothing stored');
});

t.test('a request signed too far from the proxy clock is refused', async (t) => {
  env.clockSkew.ms = 16 * 60_000;
  t.teardown(() => (env.clockSkew.ms = 0));
  await t.rejects(driver.head('workspaces/ws-1/big.bin'), { code: 'storage_error', cause: { $metadata: { httpStatusCode: 403 } } });
  await t.rejects(driver.list({ prefix: 'workspaces/', limit: 1 }), { code: 'storage_error', cause: { name: 'RequestTimeTooSkewed' } });
});
