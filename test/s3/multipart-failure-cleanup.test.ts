import { AbortMultipartUploadCommand, CreateMultipartUploadCommand, HeadBucketCommand } from '@aws-sdk/client-s3';
import { Readable } from 'node:stream';
import t, { type Test } from 'tap';
import type { ObjectMetaInit } from '../../src/storage/driver.js';
import { S3Driver } from '../../src/storage/s3/s3-driver.js';
import { MIN_PART_SIZE } from '../../src/storage/s3/s3-write.js';
import { STAGING_DIR } from '../../src/storage/s3/staging.js';
import { patternChunk, patternStream } from '../helpers/bytes.js';
import { until } from '../helpers/until.js';
import { listedKeys, listedUploads, onWire, recordRequests, testClient } from '../../support/servers/s3/clients.js';
import { startS3Server } from '../../support/servers/s3/fauxqs.js';

// A write that fails after its multipart upload started (parts uploaded, more
// in flight) must leave no multipart upload, no digest sidecar and no object,
// and must reject only after its requests in flight have come back.
// Failures come after 5+ parts: the writer fills at most queueSize (4) parts
// plus one before one must be uploaded, so by then parts are on the wire for sure.

const MiB = 1024 * 1024;
const PREFIX = 'env-t/';
const bucket = 'bg-mpu-fail';
const META: ObjectMetaInit = { contentType: 'application/octet-stream', tier: 'ephemeral', createdAt: '2026-11-22T10:00:00.000Z' };

const server = await startS3Server();
t.teardown(() => server.stop());
server.createBucket(bucket);
const inspect = testClient(server.endpoint);
const client = testClient(server.endpoint);
const sent = recordRequests(client);
let fault: ((req: Parameters<Parameters<typeof onWire>[1]>[0], command: string) => void) | undefined;
onWire(client, (req, command) => fault?.(req, command));
// Commands of `client` not finished yet, counted around the whole command (its SDK retries included).
let inFlight = 0;
client.middlewareStack.add(
  (next) => async (args) => {
    inFlight++;
    try {
      return await next(args);
    } finally {
      inFlight--;
    }
  },
  { step: 'initialize', name: 'bg-in-flight' },
);
const driver = new S3Driver({ client, bucket, prefix: PREFIX, partSize: MIN_PART_SIZE });
t.teardown(async () => {
  await driver.close();
  inspect.destroy();
});

async function assertNothingLeft(t: Test, key: string): Promise<void> {
  t.same(await listedUploads(inspect, bucket), [], 'ListMultipartUploads shows no upload in progress');
  t.same(server.multipartUploads(bucket), [], 'the server holds no multipart upload');
  t.same(await listedKeys(inspect, bucket, PREFIX + STAGING_DIR), [], 'no staging object');
  t.same(await listedKeys(inspect, bucket), [], 'no object at all in the bucket');
  await t.rejects(driver.head(key), { code: 'not_found' }, 'nothing visible at the key');
}

/** The write got as far as multipart: an upload was created and at least one part sent. */
function assertMultipartStarted(t: Test, from: number, key: string): void {
  const commands = sent.slice(from).map((r) => r.command);
  t.ok(commands.includes('CreateMultipartUpload'), 'a multipart upload was created');
  t.ok(commands.filter((c) => c === 'UploadPart').length >= 1, 'parts were uploaded');
  const create = sent.slice(from).find((r) => r.command === 'CreateMultipartUpload');
  t.equal(create?.path, `/${bucket}/${PREFIX}${key}`, 'straight to the final key');
}

/**
 * After the write rejected nothing more is sent: the upload's parts in flight
 * had come back. Checked on the state itself (no command of the client still
 * running when the write rejected: nothing is left that could send), then on
 * the wire: a marker command through the same client goes out and comes back,
 * and it is the only request sent in the meantime.
 */
async function assertQuiet(t: Test): Promise<void> {
  t.equal(inFlight, 0, 'no command of the client was still running when the write rejected');
  const before = sent.length;
  await client.send(new HeadBucketCommand({ Bucket: bucket }));
  t.same(sent.slice(before).map((r) => r.command), ['HeadBucket'], 'no request after the write rejected but the marker');
}

/** Endless pattern bytes; calls `at` once after `after` bytes were produced. */
function endless(after: number, at: () => void): Readable {
  let produced = 0;
  return new Readable({
    read() {
      if (produced >= after) at();
      this.push(patternChunk(produced, 256 * 1024));
      produced += 256 * 1024;
    },
  });
}

/** Pattern bytes up to `size`, then a source that neither ends nor fails (a stalled upstream). */
function silentAfter(size: number): Readable {
  let produced = 0;
  return new Readable({
    read() {
      if (produced >= size) return;
      const n = Math.min(256 * 1024, size - produced);
      this.push(patternChunk(produced, n));
      produced += n;
    },
  });
}

t.test('the leftover check is not vacuous: an upload in progress is listed', async (t) => {
  const key = `${PREFIX}${STAGING_DIR}sanity`;
  const { UploadId } = await inspect.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: key }));
  t.same(await listedUploads(inspect, bucket), [`${key} (${UploadId})`]);
  await inspect.send(new AbortMultipartUploadCommand({ Bucket: bucket, Key: key, UploadId }));
  t.same(await listedUploads(inspect, bucket), []);
});

t.test('abort via the signal after parts were uploaded', async (t) => {
  const key = 'workspaces/ws-1/abort/big.bin';
  const from = sent.length;
  const ac = new AbortController();
  const body = endless(28 * MiB, () => ac.abort());
  const started = Date.now();
  await t.rejects(driver.write({ key, body, maxBytes: 1 << 30, meta: META, signal: ac.signal }), { code: 'aborted' });
  t.ok(Date.now() - started < 10_000, 'rejects promptly');
  t.ok(body.destroyed, 'the body was destroyed');
  assertMultipartStarted(t, from, key);
  t.ok(sent.slice(from).some((r) => r.command === 'AbortMultipartUpload'), 'AbortMultipartUpload was sent');
  await assertQuiet(t);
  await assertNothingLeft(t, key);
});

t.test('cap breach after parts were uploaded', async (t) => {
  const key = 'workspaces/ws-1/cap/big.bin';
  const from = sent.length;
  const cap = 27 * MiB + 5;
  const body = patternStream(40 * MiB);
  await t.rejects(driver.write({ key, body, maxBytes: cap, meta: META, signal: new AbortController().signal }), {
    code: 'cap_exceeded',
    details: { 'max-bytes': cap },
  });
  t.ok(body.destroyed, 'the body was destroyed');
  assertMultipartStarted(t, from, key);
  await assertQuiet(t);
  await assertNothingLeft(t, key);
});

t.test('a source that fails after parts were uploaded: same error, nothing left', async (t) => {
  const key = 'workspaces/ws-1/source/big.bin';
  const from = sent.length;
  const body = patternStream(40 * MiB, { failAfter: 28 * MiB });
  let sourceError: unknown;
  body.once('error', (err) => (sourceError = err));
  const err = await driver.write({ key, body, maxBytes: 1 << 30, meta: META, signal: new AbortController().signal }).catch((e: unknown) => e);
  t.ok(sourceError instanceof Error, 'the source failed');
  t.equal(err, sourceError, 'the write rejects with the source error itself');
  assertMultipartStarted(t, from, key);
  await assertQuiet(t);
  await assertNothingLeft(t, key);
});

t.test('S3 refuses a part: storage_error with the SDK error as cause, nothing left', async (t) => {
  const key = 'workspaces/ws-1/part-refused/big.bin';
  const from = sent.length;
  fault = (req, command) => {
    if (command === 'UploadPart' && req.query.partNumber === '3') req.query.uploadId = 'no-such-upload';
  };
  t.teardown(() => (fault = undefined));
  const err = await driver.write({ key, body: patternStream(24 * MiB), maxBytes: 1 << 30, meta: META, signal: new AbortController().signal }).catch((e: unknown) => e);
  t.match(err, { code: 'storage_error', cause: { name: 'NoSuchUpload' } });
  t.notMatch((err as Error).message, /NoSuchUpload|does not exist/, 'no backend text in the message');
  assertMultipartStarted(t, from, key);
  await assertQuiet(t);
  await assertNothingLeft(t, key);
});

t.test('S3 refuses a part while the source is silent: the write rejects at once with storage_error, nothing left', async (t) => {
  const key = 'workspaces/ws-1/part-refused-stalled/big.bin';
  const from = sent.length;
  fault = (req, command) => {
    if (command === 'UploadPart' && req.query.partNumber === '2') req.query.uploadId = 'no-such-upload';
  };
  t.teardown(() => (fault = undefined));
  // Two parts and a little more, then nothing: only the refused part can end this write.
  const body = silentAfter(2 * MIN_PART_SIZE + 1000);
  let settled = false;
  const write = driver.write({ key, body, maxBytes: 1 << 30, meta: META, signal: new AbortController().signal }).catch((e: unknown) => e);
  void write.finally(() => (settled = true));
  await until('the write to settle once its part was refused', () => settled);
  const err = await write;
  t.match(err, { code: 'storage_error', cause: { name: 'NoSuchUpload' } }, "the part's error, not a stop or the body's");
  t.ok(body.destroyed, 'the body was destroyed');
  assertMultipartStarted(t, from, key);
  await assertQuiet(t);
  await assertNothingLeft(t, key);
});

t.test('S3 refuses the commit (CompleteMultipartUpload): upload aborted, sidecar deleted, nothing at the key', async (t) => {
  const key = 'workspaces/ws-1/commit-refused/big.bin';
  const from = sent.length;
  fault = (req, command) => {
    if (command === 'CompleteMultipartUpload') req.query.uploadId = 'no-such-upload';
  };
  t.teardown(() => (fault = undefined));
  const err = await driver.write({ key, body: patternStream(11 * MiB), maxBytes: 1 << 30, meta: META, signal: new AbortController().signal }).catch((e: unknown) => e);
  t.match(err, { code: 'storage_error', cause: { name: 'NoSuchUpload' } });
  const commands = sent.slice(from).map((r) => r.command);
  const sidecarPut = sent.slice(from).findIndex((r) => r.command === 'PutObject' && r.path.includes('/.blobgate-digests/'));
  t.ok(sidecarPut >= 0 && sidecarPut < commands.indexOf('CompleteMultipartUpload'), 'the sidecar was written before the Complete');
  t.ok(commands.includes('AbortMultipartUpload'), 'the upload was aborted');
  t.notOk(commands.includes('CopyObject'), 'no copy');
  await assertNothingLeft(t, key);
});

t.test('S3 refuses the sidecar: no Complete, upload aborted, nothing at the key', async (t) => {
  const key = 'workspaces/ws-1/sidecar-refused/big.bin';
  const from = sent.length;
  fault = (req, command) => {
    if (command === 'PutObject' && req.path.includes('/.blobgate-digests/')) req.path = '/no-such-bucket/x';
  };
  t.teardown(() => (fault = undefined));
  const err = await driver.write({ key, body: patternStream(11 * MiB), maxBytes: 1 << 30, meta: META, signal: new AbortController().signal }).catch((e: unknown) => e);
  t.match(err, { code: 'storage_error' });
  const commands = sent.slice(from).map((r) => r.command);
  t.notOk(commands.includes('CompleteMultipartUpload'), 'the upload was never completed');
  t.ok(commands.includes('AbortMultipartUpload'), 'it was aborted');
  await assertNothingLeft(t, key);
});

t.test('an overwrite that fails at the commit keeps the old object and its sha256', async (t) => {
  const key = 'workspaces/ws-1/overwrite/big.bin';
  const old = await driver.write({ key, body: patternStream(12 * MiB, { seed: 3 }), maxBytes: 1 << 30, meta: META, signal: new AbortController().signal });
  t.match(old.meta.sha256, /^[0-9a-f]{64}$/);
  fault = (req, command) => {
    if (command === 'CompleteMultipartUpload') req.query.uploadId = 'no-such-upload';
  };
  t.teardown(() => (fault = undefined));
  await t.rejects(driver.write({ key, body: patternStream(11 * MiB), maxBytes: 1 << 30, meta: META, signal: new AbortController().signal }), { code: 'storage_error' });
  fault = undefined;
  const head = await driver.head(key);
  t.equal(head.meta.size, 12 * MiB, 'the old object is still there');
  t.equal(head.meta.sha256, old.meta.sha256, 'described by its own sha256');
  t.same(await listedUploads(inspect, bucket), [], 'no upload left');
  t.equal((await listedKeys(inspect, bucket, `${PREFIX}.blobgate-digests/`)).length, 1, "only the old object's sidecar is left");
  await driver.delete(key);
  await assertNothingLeft(t, key);
});
