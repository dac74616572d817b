import { DeleteObjectCommand, HeadObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import t from 'tap';
import type { ObjectMetaInit } from '../../src/storage/driver.js';
import { S3Driver } from '../../src/storage/s3/s3-driver.js';
import { MIN_PART_SIZE } from '../../src/storage/s3/s3-write.js';
import { DIGESTS_DIR, sidecarName } from '../../src/storage/s3/s3-digests.js';
import { STAGING_DIR } from '../../src/storage/s3/staging.js';
import { patternChunk, patternSha256, patternStream, sha256, sha256OfStream } from '../helpers/bytes.js';
import { listedKeys, listedUploads, recordRequests, testClient } from '../../support/servers/s3/clients.js';
import { startS3Server } from '../../support/servers/s3/fauxqs.js';

// How a write becomes visible: a body of at most one part is one PutObject
// with the final metadata; a larger one is a multipart upload straight to
// the final key, its sha256 in a sidecar named by the object's ETag, written
// before CompleteMultipartUpload. No CopyObject. Until the Complete readers
// see nothing (or the old object), never a half; and never a wrong sha256.

const PREFIX = 'env-s/';
const bucket = 'bg-staged';
const server = await startS3Server();
t.teardown(() => server.stop());
server.createBucket(bucket);
const client = testClient(server.endpoint);
const sent = recordRequests(client);
const driver = new S3Driver({ client, bucket, prefix: PREFIX, partSize: MIN_PART_SIZE });
t.teardown(() => driver.close());
const META: ObjectMetaInit = {
  contentType: 'text/csv',
  tier: 'ephemeral',
  createdAt: '2026-11-22T10:00:00.000Z',
  expiresAt: '2026-11-23T10:00:00.000Z',
  storage: { slot: 'archive', root: 'reports', relativePath: 'q1/ü.csv' },
  searchIndex: { text: 'Ærø — €', tags: ['x'] },
};
const signal = new AbortController().signal;
t.setTimeout(180_000); // a loaded CI machine: a dozen multi-part writes and reads

/** `total` pattern bytes that stop after `gateAt` until release() is called. */
function gated(total: number, gateAt: number): { body: Readable; reached: Promise<void>; release(): void } {
  let offset = 0;
  let open = false;
  let waiting = false;
  let onReached: () => void = () => undefined;
  const reached = new Promise<void>((resolve) => (onReached = resolve));
  const produce = (): void => {
    if (offset >= gateAt && !open) {
      waiting = true;
      onReached();
      return;
    }
    if (offset >= total) {
      body.push(null);
      return;
    }
    const n = Math.min(64 * 1024, total - offset, open ? Infinity : gateAt - offset);
    body.push(patternChunk(offset, n, 9));
    offset += n;
  };
  const body = new Readable({ read: produce });
  return {
    body,
    reached,
    release: () => {
      open = true;
      if (waiting) {
        waiting = false;
        produce();
      }
    },
  };
}

t.test('a one-part body is one PutObject carrying the final metadata', async (t) => {
  const from = sent.length;
  const key = 'workspaces/ws-1/small.csv';
  const stored = await driver.write({ key, body: patternStream(MIN_PART_SIZE), maxBytes: MIN_PART_SIZE, meta: META, signal });
  const reqs = sent.slice(from);
  t.same(reqs.map((r) => r.command), ['PutObject']);
  t.equal(reqs[0]?.path, `/${bucket}/${PREFIX}workspaces/ws-1/small.csv`);
  t.equal(reqs[0]?.headers['x-amz-meta-bg-sha256'], patternSha256(MIN_PART_SIZE));
  t.equal(reqs[0]?.headers['content-type'], 'text/csv');
  t.same((await driver.head(key)).meta, stored.meta);
});

t.test('a larger body is invisible while uploading, then appears whole with complete meta; no copy', async (t) => {
  const key = 'workspaces/ws-1/big.csv';
  const size = 2 * MIN_PART_SIZE + 99;
  // An older object at the key stays readable until the new one is completed.
  await driver.write({ key, body: patternStream(1000, { seed: 1 }), maxBytes: 1000, meta: META, signal });
  const from = sent.length;
  const g = gated(size, MIN_PART_SIZE + 4096);
  const write = driver.write({ key, body: g.body, maxBytes: size, meta: META, signal });
  await g.reached;
  t.same((await driver.head(key)).meta.size, 1000, 'mid-upload: the old object is what readers see');
  t.same(await sha256OfStream((await driver.read(key)).body), { sha256: patternSha256(1000, 1), size: 1000 });
  t.same((await driver.list({ prefix: 'workspaces/ws-1/big', limit: 10 })).items.map((i) => i.meta.size), [1000], 'and what list shows');
  t.match(await listedUploads(client, bucket), [new RegExp(`^${PREFIX}${key} \\(`)], 'a multipart upload at the final key');
  g.release();
  const stored = await write;
  t.equal(stored.meta.size, size);
  t.equal(stored.meta.sha256, sha256(patternChunk(0, size, 9)));
  const head = await driver.head(key);
  t.same(head.meta, { ...META, size, sha256: stored.meta.sha256 }, 'complete meta, non-ASCII fields and the sha256 included');
  const read = await driver.read(key);
  t.equal(read.object.meta.sha256, stored.meta.sha256, 'a whole read carries the sha256 too');
  t.same(await sha256OfStream(read.body), { sha256: stored.meta.sha256, size }, 'the new bytes');
  t.same((await driver.list({ prefix: 'workspaces/ws-1/big', limit: 10 })).items.map((i) => i.meta.sha256), [stored.meta.sha256], 'and a list item');

  const reqs = sent.slice(from);
  const writes = reqs.filter((r) => !['UploadPart', 'HeadObject', 'GetObject', 'ListObjectsV2', 'ListMultipartUploads'].includes(r.command));
  t.same(writes.map((r) => r.command), ['CreateMultipartUpload', 'PutObject', 'CompleteMultipartUpload'], 'no CopyObject, no DeleteObject');
  const create = reqs.find((r) => r.command === 'CreateMultipartUpload');
  t.equal(create?.path, `/${bucket}/${PREFIX}${key}`, 'uploaded at the final key');
  t.equal(create?.headers['x-amz-meta-bg-digest'], 'sidecar', 'marked: its sha256 lives in the sidecar');
  t.equal(create?.headers['x-amz-meta-bg-tier'], 'ephemeral', 'with the meta known at the start');
  t.equal(create?.headers['x-amz-meta-bg-sha256'], undefined);
  const live = await client.send(new HeadObjectCommand({ Bucket: bucket, Key: `${PREFIX}${key}` }));
  const etag = (live.ETag ?? '').replace(/"/g, '');
  t.match(etag, /^[0-9a-f]{32}-3$/);
  const sidecarPut = writes[1];
  t.equal(sidecarPut?.path, `/${bucket}/${PREFIX}${DIGESTS_DIR}${sidecarName(key, etag)}`, "the sidecar is named by the object's ETag, predicted before the Complete");
  t.equal(sidecarPut?.headers['if-none-match'], '*', 'and created only if absent');
  t.same(await listedKeys(client, bucket, PREFIX + DIGESTS_DIR), [`${PREFIX}${DIGESTS_DIR}${sidecarName(key, etag)}`], 'one sidecar');
  t.same(await listedUploads(client, bucket), [], 'no upload left');
});

t.test('an overwrite deletes the sidecar of the version it replaced', async (t) => {
  const key = 'workspaces/ws-1/twice.bin';
  const first = await driver.write({ key, body: patternStream(MIN_PART_SIZE + 1, { seed: 4 }), maxBytes: 1 << 30, meta: META, signal });
  const second = await driver.write({ key, body: patternStream(MIN_PART_SIZE + 2, { seed: 5 }), maxBytes: 1 << 30, meta: META, signal });
  t.not(first.meta.sha256, second.meta.sha256);
  t.equal((await driver.head(key)).meta.sha256, second.meta.sha256);
  const live = await client.send(new HeadObjectCommand({ Bucket: bucket, Key: `${PREFIX}${key}` }));
  const dir = `${PREFIX}${DIGESTS_DIR}${sidecarName(key, 'x').split('/')[0]}/`;
  t.same(await listedKeys(client, bucket, dir), [`${PREFIX}${DIGESTS_DIR}${sidecarName(key, live.ETag ?? '')}`], "only the live version's sidecar is left");
  await driver.delete(key);
  t.same(await listedKeys(client, bucket, dir), [], 'a delete takes the sidecars with the object');
});

t.test('a reader trusts only a sidecar that names the object: wrong or missing → sha256 unknown, never wrong', async (t) => {
  const key = 'workspaces/ws-1/planted.bin';
  const size = MIN_PART_SIZE + 10;
  const stored = await driver.write({ key, body: patternStream(size, { seed: 6 }), maxBytes: 1 << 30, meta: META, signal });
  const live = await client.send(new HeadObjectCommand({ Bucket: bucket, Key: `${PREFIX}${key}` }));
  const sidecarKey = `${PREFIX}${DIGESTS_DIR}${sidecarName(key, live.ETag ?? '')}`;
  const fresh = new S3Driver({ client, bucket, prefix: PREFIX, partSize: MIN_PART_SIZE }); // no cache of the real sidecar
  t.teardown(() => fresh.close());
  const plant = async (body: object): Promise<void> => void (await client.send(new PutObjectCommand({ Bucket: bucket, Key: sidecarKey, Body: JSON.stringify(body) })));
  const wrong = createHash('sha256').update('other bytes').digest('hex');
  const etag = (live.ETag ?? '').replace(/"/g, '');
  const cases: Array<[string, object | undefined]> = [
    ['another ETag', { key, etag: 'd41d8cd98f00b204e9800998ecf8427e-2', sha256: wrong, size }],
    ['another size', { key, etag, sha256: wrong, size: size + 1 }],
    ['another key', { key: 'workspaces/ws-1/other.bin', etag, sha256: wrong, size }],
    ['not a sha256', { key, etag, sha256: 'zz', size }],
    ['missing', undefined],
  ];
  for (const [label, body] of cases) {
    if (body) await plant(body);
    else await client.send(new DeleteObjectCommand({ Bucket: bucket, Key: sidecarKey }));
    const probe = new S3Driver({ client, bucket, prefix: PREFIX, partSize: MIN_PART_SIZE });
    t.equal((await probe.head(key)).meta.sha256, '', `${label}: head says unknown`);
    t.equal((await probe.list({ prefix: key, limit: 10 })).items[0]?.meta.sha256, '', `${label}: list says unknown`);
    await probe.close();
  }
  await plant({ key, etag, sha256: stored.meta.sha256, size });
  t.equal((await fresh.head(key)).meta.sha256, stored.meta.sha256, 'the right sidecar is trusted');
});

t.test('staging objects and sidecars never show in a listing, even of the whole store', async (t) => {
  await client.send(new PutObjectCommand({ Bucket: bucket, Key: `${PREFIX}${STAGING_DIR}stray`, Body: 'x' }));
  t.teardown(() => client.send(new DeleteObjectCommand({ Bucket: bucket, Key: `${PREFIX}${STAGING_DIR}stray` })).then(() => undefined));
  t.ok((await listedKeys(client, bucket, PREFIX + DIGESTS_DIR)).length > 0, 'there are sidecars');
  const all = await driver.list({ prefix: '', limit: 1000 });
  t.same(all.items.map((i) => i.key), ['workspaces/ws-1/big.csv', 'workspaces/ws-1/planted.bin', 'workspaces/ws-1/small.csv']);
});
