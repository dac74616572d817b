// One transient fault on an S3 request (a 500, a 503, a dropped connection)
// is retried by the SDK and the write or read succeeds with every byte.
import { randomUUID } from 'node:crypto';
import t from 'tap';
import type { ObjectMetaInit } from '../../src/storage/driver.js';
import { S3Driver } from '../../src/storage/s3/s3-driver.js';
import { MIN_PART_SIZE } from '../../src/storage/s3/s3-write.js';
import { STAGING_DIR } from '../../src/storage/s3/staging.js';
import type { StoreFault } from '../../support/servers/faults.js';
import { listedKeys, testClient } from '../../support/servers/s3/clients.js';
import { type S3Operation, startS3Server } from '../../support/servers/s3/fauxqs.js';
import { patternSha256, patternStream, sha256OfStream } from '../helpers/bytes.js';

const bucket = 'bg-retries';
const server = await startS3Server();
server.createBucket(bucket);
const client = testClient(server.endpoint);
const driver = new S3Driver({ client, bucket, prefix: 'env-r', partSize: MIN_PART_SIZE });
t.teardown(async () => {
  await driver.close();
  await server.stop();
});
const META: ObjectMetaInit = { contentType: 'application/octet-stream', tier: 'ephemeral', createdAt: '2026-11-22T10:00:00.000Z' };
const signal = new AbortController().signal;
const LARGE = 2 * MIN_PART_SIZE + 7;
const SMALL = 1000;

const write = (size: number) =>
  driver.write({ key: `workspaces/ws-r/${randomUUID()}/obj.bin`, body: patternStream(size, { chunkSize: 64 * 1024 }), maxBytes: size, meta: META, signal });
const leftovers = async () => [
  ...server.multipartUploads(bucket).map((u) => `multipart upload ${u.key}`),
  ...(await listedKeys(client, bucket, `env-r/${STAGING_DIR}`)).map((k) => `staging object ${k}`),
];

const faults: StoreFault[] = [500, 503, 'drop'];
const writeOps: Array<[S3Operation, number]> = [
  ['PutObject', SMALL],
  ['CreateMultipartUpload', LARGE],
  ['UploadPart', LARGE],
  ['CompleteMultipartUpload', LARGE],
  // The sidecar (created If-None-Match: *) and the listing of replaced sidecars.
  ['PutObject', LARGE],
  ['ListObjects', LARGE],
];
for (const [op, size] of writeOps) {
  for (const fault of faults) {
    t.test(`one ${fault} on ${op} (${size} bytes): the write succeeds with every byte`, async (t) => {
      const armed = server.fail(op, fault);
      const stored = await write(size);
      t.equal(armed.hits, 1, 'the fault fired');
      t.equal(stored.meta.sha256, patternSha256(size));
      t.same(await sha256OfStream((await driver.read(stored.key)).body), { sha256: patternSha256(size), size });
      t.same(await leftovers(), [], 'no multipart upload, no staging object');
    });
  }
}

for (const op of ['HeadObject', 'GetObject'] as const) {
  for (const fault of faults) {
    t.test(`one ${fault} on ${op}: the read is retried and succeeds`, async (t) => {
      const stored = await write(SMALL);
      const armed = server.fail(op, fault);
      const read = await driver.read(stored.key, op === 'HeadObject' ? { start: 0 } : undefined);
      t.same(await sha256OfStream(read.body), { sha256: patternSha256(SMALL), size: SMALL });
      t.equal(armed.hits, 1, 'the fault fired');
    });
  }
}

t.test('one fault on AbortMultipartUpload after a failed write: nothing is left', async (t) => {
  for (const fault of faults) {
    const armed = server.fail('AbortMultipartUpload', fault);
    const body = patternStream(4 * MIN_PART_SIZE, { failAfter: 2 * MIN_PART_SIZE + 1000 });
    await t.rejects(driver.write({ key: `workspaces/ws-r/${randomUUID()}/f.bin`, body, maxBytes: 1 << 30, meta: META, signal }), { message: /source failed on purpose/ });
    t.equal(armed.hits, 1, `the ${fault} fired`);
    t.same(await leftovers(), [], 'no multipart upload, no staging object');
  }
});

t.test('the test server is back after an outage, with its state', async (t) => {
  const stored = await write(SMALL);
  await server.outage();
  await t.rejects(driver.head(stored.key), { code: 'storage_error' }, 'refused while down');
  await server.restore();
  t.equal((await driver.head(stored.key)).meta.sha256, patternSha256(SMALL), 'the object survived the outage');
});
