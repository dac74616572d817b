// lib-storage aborts a failed multipart upload itself, but blobgate does not
// rely on it (src/storage/s3/transfer-client.ts): when lib-storage's own
// AbortMultipartUpload fails on every attempt, blobgate's abort still
// removes the upload and its parts.
import { randomUUID } from 'node:crypto';
import t from 'tap';
import { S3Driver } from '../../src/storage/s3/s3-driver.js';
import { MIN_PART_SIZE } from '../../src/storage/s3/s3-write.js';
import { testClient } from '../servers/s3/clients.js';
import { startS3Server } from '../servers/s3/fauxqs.js';
import { patternStream } from '../helpers/bytes.js';

const bucket = 'bg-backstop';
const server = await startS3Server();
server.createBucket(bucket);
const client = testClient(server.endpoint);
const driver = new S3Driver({ client, bucket, partSize: MIN_PART_SIZE });
t.teardown(async () => {
  await driver.close();
  await server.stop();
});

t.test("lib-storage's abort fails three times (every SDK attempt): blobgate's own abort removes the upload", async (t) => {
  // The SDK's default is 3 attempts per request: all of lib-storage's AbortMultipartUpload fail.
  const armed = server.fail('AbortMultipartUpload', 500, { times: 3 });
  const body = patternStream(4 * MIN_PART_SIZE, { failAfter: 2 * MIN_PART_SIZE + 1000 });
  const key = `workspaces/ws-b/${randomUUID()}/f.bin`;
  await t.rejects(
    driver.write({ key, body, maxBytes: 1 << 30, meta: { contentType: 'application/octet-stream', tier: 'retained', createdAt: new Date().toISOString() }, signal: new AbortController().signal }),
    { message: /source failed on purpose/ },
  );
  t.equal(armed.hits, 3, "lib-storage's abort was refused on every attempt");
  t.same(server.multipartUploads(bucket), [], 'no multipart upload is left');
});
