// A failed multipart write whose AbortMultipartUpload fails on every SDK
// attempt is not forgotten: the store's janitor keeps the abort and retries
// it until the upload and its parts are gone.
import { randomUUID } from 'node:crypto';
import { setTimeout as delay } from 'node:timers/promises';
import t from 'tap';
import { Janitor } from '../../src/storage/janitor.js';
import { S3Driver } from '../../src/storage/s3/s3-driver.js';
import { MIN_PART_SIZE } from '../../src/storage/s3/s3-write.js';
import { testClient } from '../../support/servers/s3/clients.js';
import { startS3Server } from '../../support/servers/s3/fauxqs.js';
import { patternStream } from '../helpers/bytes.js';

const bucket = 'bg-backstop';
const server = await startS3Server();
server.createBucket(bucket);
const client = testClient(server.endpoint);
const janitor = new Janitor({ store: 'backstop', retryBaseMs: 50, retryMaxMs: 200, attemptWaitMs: 5_000 });
const driver = new S3Driver({ client, bucket, partSize: MIN_PART_SIZE, janitor });
t.teardown(async () => {
  await driver.close();
  await server.stop();
});

/** Polls `check` until it holds (a condition, not a fixed sleep); fails after 200 tries. */
async function until(check: () => boolean): Promise<boolean> {
  for (let i = 0; i < 200; i++) {
    if (check()) return true;
    await delay(25);
  }
  return check();
}

t.test('the abort fails on all three SDK attempts: the janitor retries it and the upload goes', async (t) => {
  const armed = server.fail('AbortMultipartUpload', 500, { times: 3 });
  const body = patternStream(4 * MIN_PART_SIZE, { failAfter: 2 * MIN_PART_SIZE + 1000 });
  const key = `workspaces/ws-b/${randomUUID()}/f.bin`;
  await t.rejects(
    driver.write({ key, body, maxBytes: 1 << 30, meta: { contentType: 'application/octet-stream', tier: 'retained', createdAt: new Date().toISOString() }, signal: new AbortController().signal }),
    { message: /source failed on purpose/ },
  );
  t.equal(armed.hits, 3, 'the first abort was refused on every attempt');
  t.equal(server.multipartUploads(bucket).length, 1, 'so the upload is still there when the write rejects');
  t.ok(await until(() => janitor.counts().pending === 0), 'the janitor finished the cleanup');
  t.same(server.multipartUploads(bucket), [], 'no multipart upload is left');
  t.ok(janitor.counts().failed >= 1, 'after a failed attempt');
});
