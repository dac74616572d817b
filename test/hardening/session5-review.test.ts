import t from 'tap';
import type { ObjectMetaInit } from '../../src/storage/driver.js';
import { S3Driver } from '../../src/storage/s3/s3-driver.js';
import { MIN_PART_SIZE } from '../../src/storage/s3/s3-write.js';
import { listedUploads, testClient } from '../../support/servers/s3/clients.js';
import { startS3Server } from '../../support/servers/s3/fauxqs.js';
import { patternStream } from '../helpers/bytes.js';

// Review of this session's surfaces (S3 digest sidecars): a write whose
// CompleteMultipartUpload is still on its way when another write of the same
// key finishes must keep its sha256 sidecar. The finished write removes the
// sidecars of the versions it replaced; one of a write still running is not
// one of them, and when that write then completes, its object is the live one.

const bucket = 'bg-review';
const PREFIX = 'env-r/';
const server = await startS3Server();
t.teardown(() => server.stop());
server.createBucket(bucket);
const META: ObjectMetaInit = { contentType: 'application/octet-stream', tier: 'retained', createdAt: '2026-12-02T00:00:00.000Z' };
const signal = new AbortController().signal;
t.setTimeout(120_000);

/** A driver whose CompleteMultipartUpload waits, before it is sent, until release() (a slow replica's commit). */
function heldCompleteDriver(): { driver: S3Driver; held: Promise<void>; release(): void } {
  const client = testClient(server.endpoint);
  let onHeld: () => void = () => undefined;
  const held = new Promise<void>((resolve) => (onHeld = resolve));
  let release: () => void = () => undefined;
  const released = new Promise<void>((resolve) => (release = resolve));
  client.middlewareStack.add(
    (next, context) => async (args) => {
      if (context.commandName === 'CompleteMultipartUploadCommand') {
        onHeld();
        await released;
      }
      return next(args);
    },
    { step: 'initialize', name: 'holdComplete' },
  );
  return { driver: new S3Driver({ client, bucket, prefix: PREFIX, partSize: MIN_PART_SIZE }), held, release };
}

t.test('a concurrent overwrite does not remove the sidecar of a write whose Complete is still in flight', async (t) => {
  const key = 'workspaces/ws-1/raced.bin';
  const slow = heldCompleteDriver();
  const fast = new S3Driver({ client: testClient(server.endpoint), bucket, prefix: PREFIX, partSize: MIN_PART_SIZE });
  t.teardown(() => Promise.all([slow.driver.close(), fast.close()]));
  // The slow write: parts uploaded, its sidecar recorded, its Complete held.
  const late = slow.driver.write({ key, body: patternStream(MIN_PART_SIZE + 3, { seed: 21 }), maxBytes: 1 << 30, meta: META, signal });
  await slow.held;
  // Another write of the key starts and finishes meanwhile (its cleanup of replaced sidecars included).
  const early = await fast.write({ key, body: patternStream(MIN_PART_SIZE + 4, { seed: 22 }), maxBytes: 1 << 30, meta: META, signal });
  slow.release();
  const stored = await late;
  t.not(stored.meta.sha256, early.meta.sha256);
  t.equal((await fast.head(key)).meta.sha256, stored.meta.sha256, 'the live object (the last Complete) still has its sha256');
  t.same(await listedUploads(testClient(server.endpoint), bucket), [], 'no upload left');
});
