import t from 'tap';
import type { ObjectMetaInit } from '../../src/storage/driver.js';
import { S3Driver } from '../../src/storage/s3/s3-driver.js';
import { MIN_PART_SIZE } from '../../src/storage/s3/s3-write.js';
import { STAGING_DIR } from '../../src/storage/s3/staging.js';
import { patternSha256, patternStream, sha256OfStream } from '../helpers/bytes.js';
import { listedKeys, listedUploads, recordRequests, testClient } from '../../support/servers/s3/clients.js';
import { startS3Server } from '../../support/servers/s3/fauxqs.js';

// When the commit request (PutObject, or CompleteMultipartUpload) took effect
// on S3 but its answer was lost, the write asks S3 (HeadObject) and succeeds
// rather than reporting failure with the new object visible.

const bucket = 'bg-commit';
const server = await startS3Server();
t.teardown(() => server.stop());
server.createBucket(bucket);
const client = testClient(server.endpoint);
const sent = recordRequests(client);
let loseAnswerOf: string | undefined;
client.middlewareStack.add(
  (next, context) => async (args) => {
    const out = await next(args);
    if (context.commandName === loseAnswerOf) {
      loseAnswerOf = undefined;
      // Not a retryable error: as if the SDK's retries were exhausted (a retried commit is harmless, it commits again).
      throw new Error('answer lost after the server committed (test)');
    }
    return out;
  },
  { step: 'deserialize', name: 'bg-lose-answer' },
);
const driver = new S3Driver({ client, bucket, prefix: 'env-c', partSize: MIN_PART_SIZE });
t.teardown(() => driver.close());
const META: ObjectMetaInit = { contentType: 'text/plain', tier: 'retained', createdAt: '2026-11-22T10:00:00.000Z' };
const signal = new AbortController().signal;

for (const [label, command, size] of [
  ['single-part PutObject', 'PutObjectCommand', 1000],
  ['CompleteMultipartUpload', 'CompleteMultipartUploadCommand', MIN_PART_SIZE + 1],
] as const) {
  t.test(`${label}: committed but the answer was lost → the write succeeds`, async (t) => {
    const key = `workspaces/ws-1/${size}`;
    loseAnswerOf = command;
    const from = sent.length;
    const stored = await driver.write({ key, body: patternStream(size), maxBytes: size, meta: META, signal });
    t.equal(loseAnswerOf, undefined, 'the answer was indeed lost');
    t.equal(stored.meta.sha256, patternSha256(size));
    t.ok(sent.slice(from).some((r) => r.command === 'HeadObject'), 'the driver asked S3 whether the commit took effect');
    t.same(await sha256OfStream((await driver.read(key)).body), { sha256: patternSha256(size), size });
    t.same(await listedKeys(client, bucket, `env-c/${STAGING_DIR}`), [], 'no staging object');
    t.same(await listedUploads(client, bucket), []);
  });
}

t.test('the digest sidecar was created but its answer was lost → the sidecar decides, the write succeeds', async (t) => {
  const size = MIN_PART_SIZE + 2;
  const key = `workspaces/ws-1/sidecar-${size}`;
  loseAnswerOf = 'PutObjectCommand'; // the first PutObject of a multi-part write is its sidecar
  const stored = await driver.write({ key, body: patternStream(size), maxBytes: size, meta: META, signal });
  t.equal(loseAnswerOf, undefined, 'the answer was indeed lost');
  t.equal(stored.meta.sha256, patternSha256(size));
  t.equal((await driver.head(key)).meta.sha256, patternSha256(size), 'described by its sidecar');
  t.same(await listedUploads(client, bucket), []);
});
