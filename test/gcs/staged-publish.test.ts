// All-or-nothing for large bodies: while a resumable upload is in flight the
// key still shows the previous object (nothing new, no staging name in any
// listing); the new object appears in one step, with its complete meta, when
// the upload finalized; nothing is left behind.
import { createHash, randomUUID } from 'node:crypto';
import t from 'tap';
import type { ObjectMetaInit } from '../../src/storage/driver.js';
import { patternChunk, patternSha256, patternStream, sha256OfStream } from '../helpers/bytes.js';
import { CHUNK, FAST_RETRIES, gatedSource, startGcs, until } from './harness.js';

// Every retry after 1 s (FAST_RETRIES; the retried requests and their count are the production configuration).
const gcs = await startGcs(t, 'bg-test', { retryTiming: FAST_RETRIES });
// The resumable path (parallelParts 1); parallel-parts.test.ts covers parallel composite uploads.
const driver = gcs.driver({ prefix: 'env-p', parallelParts: 1 });
const signal = new AbortController().signal;
const META: ObjectMetaInit = { contentType: 'application/octet-stream', tier: 'retained', createdAt: '2026-11-22T10:00:00.000Z' };

t.test('a large write over an existing object publishes atomically', async (t) => {
  const key = `workspaces/ws-p/${randomUUID()}/big.bin`;
  await driver.write({ key, body: patternStream(1000, { seed: 1 }), maxBytes: 1000, meta: META, signal });
  const old = await driver.head(key);
  t.equal(old.meta.sha256, patternSha256(1000, 1));

  const before = 4 * CHUNK + 123;
  const src = gatedSource(before);
  const write = driver.write({ key, body: src.body, maxBytes: 1 << 30, meta: { ...META, tier: 'ephemeral' }, signal });
  await src.drained;
  await until(() => (gcs.server.openSessions(gcs.bucket)[0]?.received ?? 0) >= 4 * CHUNK, 'four chunks at the server');

  const mid = await driver.head(key);
  t.same(mid.meta, old.meta, 'mid-upload the key still shows the previous object, unchanged');
  const midRead = await driver.read(key);
  t.same(await sha256OfStream(midRead.body), { sha256: patternSha256(1000, 1), size: 1000 }, 'and its bytes');
  const listed = await driver.list({ prefix: `workspaces/ws-p/`, limit: 100 });
  t.same(listed.items.map((i) => i.key), [key], 'no staging name in the listing');
  const staged = gcs.server.objectNames(gcs.bucket).filter((n) => n.includes('.blobgate-staging/'));
  t.same(staged.filter((n) => !n.endsWith('.session')), [], 'the staging object does not exist before finalization');
  t.equal(staged.length, 1, "only the session's record (what a sweep after a crash needs) is there");

  src.body.push(null);
  const stored = await write;
  const size = before;
  const expectedSha = createHash('sha256').update(patternChunk(0, size)).digest('hex');
  t.same(stored.meta, { ...META, tier: 'ephemeral', size, sha256: expectedSha }, 'complete meta');
  const head = await driver.head(key);
  t.same(head.meta, stored.meta, 'head shows the new object with its complete meta');
  const read = await driver.read(key);
  t.same(await sha256OfStream(read.body), { sha256: expectedSha, size }, 'new bytes');
  t.same(gcs.leftovers(), [], 'no session, no staging object');
  t.same(gcs.server.objectNames(gcs.bucket).filter((n) => n.startsWith('env-p/')), [`env-p/${key}`], 'only the object itself');
});

t.test('a large announced body skips the head read and still stores byte-identical', async (t) => {
  const key = `workspaces/ws-p/${randomUUID()}/announced.bin`;
  const size = 3 * CHUNK + 7;
  const stored = await driver.write({ key, body: patternStream(size, { chunkSize: 10_007 }), maxBytes: size, expectedSize: size, meta: META, signal });
  t.equal(stored.meta.sha256, patternSha256(size));
  const read = await driver.read(key, { start: CHUNK - 3, end: CHUNK + 2 });
  t.same(read.range, { start: CHUNK - 3, end: CHUNK + 2 });
  const bytes = await sha256OfStream(read.body);
  t.same(bytes, { sha256: createHash('sha256').update(patternChunk(CHUNK - 3, 6)).digest('hex'), size: 6 }, 'bytes across a chunk boundary');
  t.same(gcs.leftovers(), []);
});

t.test('an announced size that lies low still stores every byte', async (t) => {
  const key = `workspaces/ws-p/${randomUUID()}/liar.bin`;
  const size = 2 * CHUNK + 1;
  const stored = await driver.write({ key, body: patternStream(size), maxBytes: size, expectedSize: 10, meta: META, signal });
  t.equal(stored.meta.size, size);
  t.equal(stored.meta.sha256, patternSha256(size));
  t.same(gcs.leftovers(), []);
});

// The publish rewrite is idempotent and the client retries it
// (GCS_RETRY_OPTIONS in src/storage/gcs/client.ts): a connection dropped
// under it — a keep-alive socket the server closes as the request goes out,
// seen under 32 concurrent writes — must not fail a finished upload.
t.test('a publish rewrite whose connection drops is sent again', async (t) => {
  const key = `workspaces/ws-p/${randomUUID()}/retried.bin`;
  const size = 2 * CHUNK + 5;
  const drops = gcs.server.dropRewrites(2);
  const stored = await driver.write({ key, body: patternStream(size), maxBytes: size, meta: META, signal });
  t.equal(drops.dropped, 2, 'two rewrites were dropped before one went through');
  t.equal(stored.meta.sha256, patternSha256(size));
  t.same(await sha256OfStream((await driver.read(key)).body), { sha256: patternSha256(size), size }, 'the object holds every byte');
  t.same(gcs.leftovers(), [], 'no session, no staging object');
});

t.test('a publish rewrite dropped on every attempt fails the write and leaves the old object', async (t) => {
  const key = `workspaces/ws-p/${randomUUID()}/dropped.bin`;
  await driver.write({ key, body: patternStream(1000, { seed: 3 }), maxBytes: 1000, meta: META, signal });
  const old = await driver.head(key);
  const drops = gcs.server.dropRewrites(100);
  const size = 2 * CHUNK + 5;
  await t.rejects(driver.write({ key, body: patternStream(size), maxBytes: size, meta: META, signal }), { code: 'storage_error' });
  t.equal(drops.dropped, 4, 'sent four times in all (the client retries three times), then given up');
  gcs.server.dropRewrites(0);
  t.same((await driver.head(key)).meta, old.meta, 'the key still shows the previous object');
  t.same(gcs.leftovers(), [], 'no session, no staging object');
});
