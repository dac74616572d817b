// SDK errors become driver errors at the edge: a missing object is
// `not_found`, a missing bucket or an unreachable store is `storage_error`
// with the SDK error as cause, and no backend text reaches the message.
import { randomUUID } from 'node:crypto';
import { Readable } from 'node:stream';
import t from 'tap';
import { BlobgateError } from '../../src/errors.js';
import type { ObjectMetaInit } from '../../src/storage/driver.js';
import { buildGcsStorage } from '../../src/storage/gcs/client.js';
import { GcsDriver } from '../../src/storage/gcs/gcs-driver.js';
import { gcsStatus } from '../../src/storage/gcs/gcs-errors.js';
import { patternStream } from '../helpers/bytes.js';
import { CHUNK, startGcs } from './harness.js';

const gcs = await startGcs(t);
const META: ObjectMetaInit = { contentType: 'text/plain', tier: 'retained', createdAt: '2026-11-22T10:00:00.000Z' };
const signal = new AbortController().signal;
const BACKEND_TEXT = /No such object|specified bucket|does not exist|bg-test|bg-missing|ECONNREFUSED|127\.0\.0\.1/;

async function failure(p: Promise<unknown>): Promise<BlobgateError> {
  const err = await p.then(() => undefined, (e: unknown) => e);
  if (!(err instanceof BlobgateError)) throw new Error(`expected a BlobgateError, got ${String(err)}`);
  return err;
}

t.test('a missing object is not_found on head, read and ranged read', async (t) => {
  const driver = gcs.driver({ prefix: 'env-e' });
  const key = `workspaces/ws-e/${randomUUID()}/missing.txt`;
  for (const [what, p] of [
    ['head', driver.head(key)],
    ['read', driver.read(key)],
    ['ranged read', driver.read(key, { start: 0, end: 9 })],
  ] as const) {
    const err = await failure(p);
    t.equal(err.code, 'not_found', what);
    t.equal(err.status, 404, `${what}: HTTP status of the code`);
    t.equal(err.message, `No object at ${key}.`, `${what}: names the logical key only`);
    t.equal(gcsStatus(err.cause), 404, `${what}: the SDK's 404 is the cause`);
    t.notMatch(err.message, BACKEND_TEXT, `${what}: no backend text`);
  }
  await driver.delete(key);
  t.pass('deleting a missing object succeeds');
});

t.test('a range outside the object is range_not_satisfiable with details.size', async (t) => {
  const driver = gcs.driver();
  const key = `workspaces/ws-e/${randomUUID()}/ten.txt`;
  await driver.write({ key, body: Readable.from([Buffer.from('0123456789')]), maxBytes: 10, meta: META, signal });
  const err = await failure(driver.read(key, { start: 10 }));
  t.equal(err.code, 'range_not_satisfiable');
  t.equal(err.status, 416);
  t.same(err.details, { size: 10 });
});

t.test('a missing bucket is storage_error with the SDK error as cause, on every operation', async (t) => {
  const driver = gcs.driver({ bucket: 'bg-missing' });
  const key = `workspaces/ws-e/${randomUUID()}/x.bin`;
  const ops: Array<[string, () => Promise<unknown>]> = [
    ['head', () => driver.head(key)],
    ['read', () => driver.read(key)],
    ['delete', () => driver.delete(key)],
    ['list', () => driver.list({ prefix: 'workspaces/ws-e/', limit: 10 })],
    ['ping', () => driver.ping()],
    ['small write (single request)', () => driver.write({ key, body: patternStream(100), maxBytes: 1000, meta: META, signal })],
    ['large write (resumable)', () => driver.write({ key, body: patternStream(2 * CHUNK), maxBytes: 4 * CHUNK, meta: META, signal })],
  ];
  for (const [what, op] of ops) {
    const err = await failure(op());
    t.equal(err.code, 'storage_error', what);
    t.equal(err.status, 502, `${what}: HTTP status of the code`);
    t.equal(gcsStatus(err.cause), 404, `${what}: the SDK's 404 is the cause`);
    t.ok(err.cause instanceof Error, `${what}: the cause is the SDK's error`);
    t.notMatch(err.message, BACKEND_TEXT, `${what}: the message does not`);
  }
  t.same(gcs.leftovers(), []);
});

t.test('an unreachable store is storage_error', async (t) => {
  const storage = buildGcsStorage({ apiEndpoint: 'http://127.0.0.1:9', projectId: 'test' });
  storage.retryOptions.autoRetry = false; // connection refused is retryable; fail fast here
  const driver = new GcsDriver({ storage, bucket: gcs.bucket });
  const err = await failure(driver.ping());
  t.equal(err.code, 'storage_error');
  t.ok(err.cause, 'the SDK error is kept as cause');
  t.notMatch(err.message, BACKEND_TEXT);
  const head = await failure(driver.head('workspaces/ws-e/x'));
  t.equal(head.code, 'storage_error', 'not not_found: the store could not say');
});

t.test('invalid options are refused when the driver is built', async (t) => {
  const storage = buildGcsStorage({ apiEndpoint: gcs.server.url, projectId: 'test' });
  t.throws(() => new GcsDriver({ storage, bucket: gcs.bucket, chunkSize: 1000 }), RangeError);
  t.throws(() => new GcsDriver({ storage, bucket: gcs.bucket, chunkSize: CHUNK + 1 }), /multiple of 262144/);
  t.throws(() => new GcsDriver({ storage, bucket: '' }), RangeError);
  t.doesNotThrow(() => new GcsDriver({ storage, bucket: gcs.bucket, chunkSize: 4 * CHUNK }));
});
