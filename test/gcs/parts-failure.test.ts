// A parallel composite upload that fails — a part past the client's retries, the publishing
// compose past its retries, a cap breach, a source error, an abort while parts are in
// flight, the bucket gone — leaves no part, no intermediate, no object at the key, and an
// overwritten key keeps its old object.
import { randomUUID } from 'node:crypto';
import t, { type Test } from 'tap';
import type { ObjectMetaInit } from '../../src/storage/driver.js';
import { patternSha256, patternStream } from '../helpers/bytes.js';
import { CHUNK, FAST_RETRIES, gatedSource, startGcs, until } from './harness.js';

const gcs = await startGcs(t, 'bg-test', { retryTiming: FAST_RETRIES });
const driver = gcs.driver({ prefix: 'env-pf', parallelParts: 3 });
const META: ObjectMetaInit = { contentType: 'application/octet-stream', tier: 'ephemeral', createdAt: '2026-12-02T02:00:00.000Z' };
const MAX = 256 * 1024 * 1024;
const key = (name: string): string => `workspaces/ws-pf/${randomUUID()}/${name}`;
const parts = (): string[] => gcs.server.objectNames(gcs.bucket).filter((n) => n.includes('.blobgate-staging/'));
const signal = new AbortController().signal;

/** Writes an old object at `k`, so the test can check a failed overwrite kept it. */
async function old(k: string): Promise<string> {
  const stored = await driver.write({ key: k, body: patternStream(500, { seed: 9 }), maxBytes: MAX, meta: META, signal });
  return stored.meta.sha256;
}

async function intact(t: Test, k: string, sha: string): Promise<void> {
  t.equal((await driver.head(k)).meta.sha256, sha, 'the old object is intact');
  t.same(gcs.leftovers(), [], 'no part, no intermediate, no staging object');
}

t.test('a part failing past the client retries: storage_error, nothing left, old object kept', async (t) => {
  const k = key('part-fails.bin');
  const sha = await old(k);
  const fault = gcs.server.fail('single-upload', 503, { skip: 2, times: 100 });
  const err = await driver.write({ key: k, body: patternStream(10 * CHUNK), maxBytes: MAX, meta: META, signal }).then(() => undefined, (e: unknown) => e);
  gcs.server.clearFaults();
  t.match(err, { code: 'storage_error' });
  t.ok(fault.hits >= 4, `the client tried the part 4 times (hits ${fault.hits})`);
  await intact(t, k, sha);
});

t.test('the publishing compose failing past its retries: storage_error, nothing left, old object kept', async (t) => {
  const k = key('compose-fails.bin');
  const sha = await old(k);
  const fault = gcs.server.fail('compose', 500, { times: 100 });
  const err = await driver.write({ key: k, body: patternStream(5 * CHUNK + 3), maxBytes: MAX, meta: META, signal }).then(() => undefined, (e: unknown) => e);
  gcs.server.clearFaults();
  t.match(err, { code: 'storage_error' });
  t.equal(fault.hits, 4, 'the client sent the compose 4 times');
  await intact(t, k, sha);
});

t.test('an intermediate compose failing (more than 32 parts): nothing left', async (t) => {
  const k = key('tier-fails.bin');
  const sha = await old(k);
  gcs.server.fail('compose', 503, { skip: 1, times: 100 }); // the first intermediate passes, the second fails
  const err = await driver.write({ key: k, body: patternStream(66 * CHUNK), maxBytes: MAX, meta: META, signal }).then(() => undefined, (e: unknown) => e);
  gcs.server.clearFaults();
  t.match(err, { code: 'storage_error' });
  await intact(t, k, sha);
});

const cases: Array<{ name: string; maxBytes: number; trigger: (src: ReturnType<typeof gatedSource>, ac: AbortController) => void; expect: { code: string } | { message: string } }> = [
  { name: 'cap breach', maxBytes: 4 * CHUNK + 10, trigger: (src) => src.more(100), expect: { code: 'cap_exceeded' } },
  { name: 'source error', maxBytes: MAX, trigger: (src) => src.fail(new Error('upstream reset (test)')), expect: { message: 'upstream reset (test)' } },
  { name: 'abort', maxBytes: MAX, trigger: (_src, ac) => ac.abort(), expect: { code: 'aborted' } },
];

for (const c of cases) {
  t.test(`${c.name} after parts were stored: no part left, old object kept`, async (t) => {
    const k = key(`${c.name.replace(' ', '-')}.bin`);
    const sha = await old(k);
    const src = gatedSource(4 * CHUNK + 5);
    const ac = new AbortController();
    const write = driver.write({ key: k, body: src.body, maxBytes: c.maxBytes, meta: META, signal: ac.signal });
    write.catch(() => undefined);
    await src.drained;
    await until(() => parts().length >= 4, 'four parts stored');
    c.trigger(src, ac);
    await t.rejects(write, c.expect);
    t.ok(src.body.destroyed, 'the driver destroyed the body it owned');
    await intact(t, k, sha);
  });
}

t.test('an abort while parts are in flight: the write rejects, the parts that land later are deleted', async (t) => {
  const k = key('in-flight.bin');
  const sent = gcs.server.requestCount('single-upload');
  const held = gcs.server.hold('single-upload');
  const ac = new AbortController();
  const src = gatedSource(6 * CHUNK);
  const write = driver.write({ key: k, body: src.body, maxBytes: MAX, meta: META, signal: ac.signal });
  write.catch(() => undefined);
  await until(() => held.waiting === 3, 'three parts in flight');
  ac.abort();
  // The write waits (bounded) for the requests in flight; release them meanwhile.
  setImmediate(() => held.release());
  await t.rejects(write, { code: 'aborted' });
  await until(() => gcs.leftovers().length === 0 && driver.janitor.counts().pending === 0, 'the cleanup removed the late parts');
  t.same(parts(), []);
  t.equal(gcs.server.requestCount('single-upload') - sent, 3, 'no part was started after the abort (the fourth was read, waiting for a slot)');
  await t.rejects(driver.head(k), { code: 'not_found' });
});

t.test('an abort while the held parts never come back in time: the janitor deletes them once they land', async (t) => {
  const k = key('late.bin');
  const held = gcs.server.hold('single-upload');
  const ac = new AbortController();
  const src = gatedSource(6 * CHUNK);
  const write = driver.write({ key: k, body: src.body, maxBytes: MAX, meta: META, signal: ac.signal });
  write.catch(() => undefined);
  await until(() => held.waiting === 3, 'three parts in flight');
  ac.abort();
  await t.rejects(write, { code: 'aborted' }); // after the bounded wait (5 s)
  t.equal(driver.janitor.counts().pending, 1, 'the cleanup is pending: parts were still in flight');
  held.release();
  await until(() => driver.janitor.counts().pending === 0, 'the janitor finished the cleanup', 20_000);
  t.same(gcs.leftovers(), [], 'the parts that landed after the write failed are gone');
});

t.test('the bucket deleted mid-upload: storage_error, nothing left anywhere', async (t) => {
  const bucket = 'bg-vanishing-parts';
  gcs.server.createBucket(bucket);
  const d = gcs.driver({ bucket, parallelParts: 2 });
  const src = gatedSource(3 * CHUNK);
  const write = d.write({ key: key('vanishing.bin'), body: src.body, maxBytes: MAX, meta: META, signal });
  write.catch(() => undefined);
  await src.drained;
  await until(() => gcs.server.objectNames(bucket).length >= 3, 'three parts stored');
  for (const name of gcs.server.objectNames(bucket)) await fetch(`${gcs.server.url}/storage/v1/b/${bucket}/o/${encodeURIComponent(name)}`, { method: 'DELETE' });
  t.equal((await fetch(`${gcs.server.url}/storage/v1/b/${bucket}`, { method: 'DELETE' })).status, 204);
  src.more(CHUNK);
  src.body.push(null);
  const err = await write.then(() => undefined, (e: unknown) => e);
  t.match(err, { code: 'storage_error' });
  t.ok((err as Error).cause, 'the SDK error is kept as cause');
});

t.test('a body that ends exactly on a part boundary, and a write after all these: byte-identical', async (t) => {
  const k = key('exact.bin');
  const stored = await driver.write({ key: k, body: patternStream(4 * CHUNK), maxBytes: MAX, meta: META, signal });
  t.equal(stored.meta.sha256, patternSha256(4 * CHUNK));
  t.same(gcs.leftovers(), []);
});
