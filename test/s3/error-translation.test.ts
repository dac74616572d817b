import { GetObjectCommand } from '@aws-sdk/client-s3';
import t, { type Test } from 'tap';
import { BlobgateError } from '../../src/errors.js';
import type { ObjectMetaInit } from '../../src/storage/driver.js';
import { S3Driver } from '../../src/storage/s3/s3-driver.js';
import { translateS3Error } from '../../src/storage/s3/s3-errors.js';
import { MIN_PART_SIZE } from '../../src/storage/s3/s3-write.js';
import { patternStream } from '../helpers/bytes.js';
import { listedUploads, testClient } from '../../support/servers/s3/clients.js';
import { startS3Server } from '../../support/servers/s3/fauxqs.js';

// S3 errors from a real server become driver errors: NoSuchKey → not_found,
// InvalidRange → range_not_satisfiable (details.size), a missing bucket →
// storage_error; the SDK error is the cause, the backend text stays out.

const server = await startS3Server();
t.teardown(() => server.stop());
server.createBucket('bg-errors');
const client = testClient(server.endpoint);
const driver = new S3Driver({ client, bucket: 'bg-errors', partSize: MIN_PART_SIZE });
const nowhere = new S3Driver({ client: testClient(server.endpoint), bucket: 'bg-no-such-bucket', partSize: MIN_PART_SIZE });
t.teardown(async () => {
  await driver.close();
  await nowhere.close();
});
const META: ObjectMetaInit = { contentType: 'text/plain', tier: 'retained', createdAt: '2026-11-22T10:00:00.000Z' };
const signal = new AbortController().signal;
const BACKEND_TEXT = /NoSuch|does not exist|bg-no-such-bucket|specified/;

async function failure(p: Promise<unknown>): Promise<BlobgateError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!(err instanceof BlobgateError)) throw new Error(`expected a BlobgateError, got ${String(err)}`);
  return err;
}

function assertClean(t: Test, err: BlobgateError): void {
  t.notMatch(err.message, BACKEND_TEXT, 'no backend text in the message');
}

t.test('NoSuchKey → not_found', async (t) => {
  const read = await failure(driver.read('workspaces/ws-1/missing'));
  t.match(read, { code: 'not_found', status: 404, message: 'No object at workspaces/ws-1/missing.', cause: { name: 'NoSuchKey', $metadata: { httpStatusCode: 404 } } });
  assertClean(t, read);
  const head = await failure(driver.head('workspaces/ws-1/missing'));
  t.match(head, { code: 'not_found', cause: { name: 'NotFound', $metadata: { httpStatusCode: 404 } } });
});

t.test('InvalidRange (416) → range_not_satisfiable with details.size', async (t) => {
  await driver.write({ key: 'workspaces/ws-1/ten', body: patternStream(10), maxBytes: 10, meta: META, signal });
  const sdkError = await client.send(new GetObjectCommand({ Bucket: 'bg-errors', Key: 'workspaces/ws-1/ten', Range: 'bytes=10-' })).catch((e: unknown) => e);
  t.match(sdkError, { name: 'InvalidRange', $metadata: { httpStatusCode: 416 } }, 'the server answered 416');
  const err = translateS3Error(sdkError, { key: 'workspaces/ws-1/ten', what: 'reading' });
  t.match(err, { code: 'range_not_satisfiable', status: 416, details: { size: 10 }, cause: sdkError });
  assertClean(t, err);
  // The driver resolves ranges itself (against HeadObject) and says the same.
  t.match(await failure(driver.read('workspaces/ws-1/ten', { start: 10 })), { code: 'range_not_satisfiable', details: { size: 10 } });
});

t.test('a missing bucket → storage_error with the SDK error as cause', async (t) => {
  const cases: Array<[string, () => Promise<unknown>]> = [
    ['write (PutObject)', () => nowhere.write({ key: 'workspaces/ws-1/a', body: patternStream(10), maxBytes: 10, meta: META, signal })],
    ['write (multipart)', () => nowhere.write({ key: 'workspaces/ws-1/b', body: patternStream(MIN_PART_SIZE + 1), maxBytes: 1 << 30, meta: META, signal })],
    ['read', () => nowhere.read('workspaces/ws-1/a')],
    ['list', () => nowhere.list({ prefix: 'workspaces/', limit: 10 })],
    ['delete', () => nowhere.delete('workspaces/ws-1/a')],
  ];
  for (const [what, p] of cases) {
    const err = await failure(p());
    t.match(err, { code: 'storage_error', status: 502, cause: { name: 'NoSuchBucket', $metadata: { httpStatusCode: 404 } } }, what);
    assertClean(t, err);
  }
  const ping = await failure(nowhere.ping());
  t.match(ping, { code: 'storage_error', cause: { $metadata: { httpStatusCode: 404 } } }, 'ping (HeadBucket)');
  // HEAD answers have no body, so a HeadObject on a missing bucket is a bare
  // 404 like a missing key: head() says not_found (documented in s3-errors.ts).
  t.match(await failure(nowhere.head('workspaces/ws-1/a')), { code: 'not_found' });
  t.same(await listedUploads(client, 'bg-errors'), []);
});

t.test('a network failure → storage_error', async (t) => {
  const dead = new S3Driver({ client: testClient('http://127.0.0.1:9'), bucket: 'bg-errors' });
  t.teardown(() => dead.close());
  const err = await failure(dead.head('workspaces/ws-1/a'));
  t.match(err, { code: 'storage_error', cause: Error });
  assertClean(t, err);
});
