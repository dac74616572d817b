import { DeleteObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { Readable } from 'node:stream';
import t from 'tap';
import type { ObjectMetaInit } from '../../src/storage/driver.js';
import { S3Driver } from '../../src/storage/s3/s3-driver.js';
import { MIN_PART_SIZE } from '../../src/storage/s3/s3-write.js';
import { STAGING_DIR } from '../../src/storage/s3/staging.js';
import { patternChunk, patternSha256, patternStream, sha256, sha256OfStream } from '../helpers/bytes.js';
import { listedKeys, listedUploads, recordRequests, testClient } from '../servers/s3/clients.js';
import { startS3Server } from '../servers/s3/fauxqs.js';

// How a write becomes visible: a body of at most one part is one PutObject
// with the final metadata; a larger one is uploaded to a staging key and
// published by one CopyObject (metadata REPLACE, incl. sha256). Until then
// readers see nothing (or the old object), never a half or a meta-less one.

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
t.setTimeout(60_000);

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

t.test('a larger body is invisible while uploading, then appears whole with complete meta', async (t) => {
  const key = 'workspaces/ws-1/big.csv';
  const size = 2 * MIN_PART_SIZE + 99;
  // An older object at the key stays readable until the new one is published.
  await driver.write({ key, body: patternStream(1000, { seed: 1 }), maxBytes: 1000, meta: META, signal });
  const from = sent.length;
  const g = gated(size, MIN_PART_SIZE + 4096);
  const write = driver.write({ key, body: g.body, maxBytes: size, meta: META, signal });
  await g.reached;
  t.same((await driver.head(key)).meta.size, 1000, 'mid-upload: the old object is what readers see');
  t.same(await sha256OfStream((await driver.read(key)).body), { sha256: patternSha256(1000, 1), size: 1000 });
  t.same((await driver.list({ prefix: 'workspaces/ws-1/big', limit: 10 })).items.map((i) => i.meta.size), [1000], 'and what list shows');
  t.equal((await listedUploads(client, bucket)).length, 1, 'a multipart upload is in progress');
  t.match((await listedUploads(client, bucket))[0], new RegExp(`^${PREFIX}\\.blobgate-staging/`), 'at a staging key');
  g.release();
  const stored = await write;
  t.equal(stored.meta.size, size);
  const head = await driver.head(key);
  t.same(head.meta, { ...META, size, sha256: stored.meta.sha256 }, 'complete meta, non-ASCII fields included');
  t.same(await sha256OfStream((await driver.read(key)).body), { sha256: sha256(patternChunk(0, size, 9)), size }, 'the new bytes');

  const reqs = sent.slice(from);
  const commands = reqs.map((r) => r.command);
  t.same(commands.filter((c) => c !== 'UploadPart' && c !== 'HeadObject' && c !== 'GetObject' && c !== 'ListObjectsV2' && c !== 'ListMultipartUploads'), [
    'CreateMultipartUpload',
    'CompleteMultipartUpload',
    'CopyObject',
    'DeleteObject',
  ]);
  const copy = reqs.find((r) => r.command === 'CopyObject');
  t.equal(copy?.path, `/${bucket}/${PREFIX}workspaces/ws-1/big.csv`, 'copied to the final key');
  t.match(copy?.headers['x-amz-copy-source'] ?? '', new RegExp(`^${bucket}/env-s/\\.blobgate-staging/[0-9a-f-]{36}$`), 'from the staging key');
  t.equal(copy?.headers['x-amz-metadata-directive'], 'REPLACE');
  t.equal(copy?.headers['x-amz-meta-bg-sha256'], stored.meta.sha256);
  t.same(await listedKeys(client, bucket, PREFIX + STAGING_DIR), [], 'the staging object is gone');
  t.same(await listedUploads(client, bucket), [], 'no upload left');
});

t.test('staging objects never show in a listing, even of the whole store', async (t) => {
  await client.send(new PutObjectCommand({ Bucket: bucket, Key: `${PREFIX}${STAGING_DIR}stray`, Body: 'x' }));
  t.teardown(() => client.send(new DeleteObjectCommand({ Bucket: bucket, Key: `${PREFIX}${STAGING_DIR}stray` })).then(() => undefined));
  const all = await driver.list({ prefix: '', limit: 1000 });
  t.same(all.items.map((i) => i.key), ['workspaces/ws-1/big.csv', 'workspaces/ws-1/small.csv']);
});
