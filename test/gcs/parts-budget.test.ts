// Parallel composite uploads take their part buffers from the process's buffer budget
// (limits.buffer-bytes, src/storage/buffer-budget.ts) like S3's parts and the resumable
// path's chunks: with a budget smaller than the parts allowed in flight, the writer waits for
// a buffer (backpressure) instead of holding more; every buffer comes back after success and
// after a failure (an abort while waiting for a buffer or for a slot, a part failing past its
// retries, a source error); two transfers on one small budget both finish; a budget smaller
// than one part still lets a write through, one part at a time.
import { randomUUID } from 'node:crypto';
import t from 'tap';
import { BufferBudget, type BufferLease } from '../../src/storage/buffer-budget.js';
import type { ObjectMetaInit } from '../../src/storage/driver.js';
import { patternSha256, patternStream } from '../helpers/bytes.js';
import { CHUNK, FAST_RETRIES, gatedSource, startGcs, until } from './harness.js';

const gcs = await startGcs(t, 'bg-test', { retryTiming: FAST_RETRIES });
const META: ObjectMetaInit = { contentType: 'application/octet-stream', tier: 'ephemeral', createdAt: '2026-12-03T09:00:00.000Z' };
const MAX = 256 * 1024 * 1024; // parts of CHUNK (256 MiB / 1024 components = 256 KiB)
const key = (name: string): string => `workspaces/ws-pb/${randomUUID()}/${name}`;
const signal = new AbortController().signal;

/** A budget that also records the most bytes it ever had handed out. */
function watchedBudget(limit: number): { budget: BufferBudget; peak(): number } {
  const budget = new BufferBudget(limit);
  let peak = 0;
  const acquire = budget.acquire.bind(budget);
  budget.acquire = async (...args: Parameters<BufferBudget['acquire']>): Promise<BufferLease> => {
    const lease = await acquire(...args);
    peak = Math.max(peak, budget.counts().inUse);
    return lease;
  };
  return { budget, peak: () => peak };
}

t.test('a budget of two parts: two in flight, the writer waits for a third, then all come back', async (t) => {
  const { budget, peak } = watchedBudget(2 * CHUNK);
  const driver = gcs.driver({ prefix: 'env-pb', parallelParts: 3, buffers: budget });
  t.teardown(() => driver.close());
  const k = key('two.bin');
  const size = 6 * CHUNK + 99;
  const held = gcs.server.hold('single-upload');
  const write = driver.write({ key: k, body: patternStream(size, { chunkSize: 65_536 }), maxBytes: MAX, meta: META, signal });
  await until(() => held.waiting === 2 && budget.counts().waiting === 1, 'two parts in flight and the writer waiting for a buffer');
  t.equal(budget.counts().inUse, 2 * CHUNK, 'both part buffers are in the budget');
  held.release();
  const stored = await write;
  t.equal(stored.meta.sha256, patternSha256(size));
  t.equal(peak(), 2 * CHUNK, 'never more than the budget');
  t.equal(budget.counts().inUse, 0, 'every part buffer given back');
  t.same(gcs.leftovers(), []);
});

t.test('two transfers on a budget of three parts both finish, within it', async (t) => {
  const { budget, peak } = watchedBudget(3 * CHUNK);
  const driver = gcs.driver({ prefix: 'env-pb', parallelParts: 3, buffers: budget });
  t.teardown(() => driver.close());
  const sizes = [9 * CHUNK + 1, 7 * CHUNK + 5];
  const stored = await Promise.all(sizes.map((size, i) => driver.write({ key: key(`both-${i}.bin`), body: patternStream(size, { seed: i }), maxBytes: MAX, meta: META, signal })));
  t.same(stored.map((s) => s.meta.sha256), sizes.map((size, i) => patternSha256(size, i)));
  t.ok(peak() > 0, 'the parts came from the budget');
  t.ok(peak() <= 3 * CHUNK, `at most the budget in use (peak ${peak()})`);
  t.equal(budget.counts().inUse, 0);
  t.same(gcs.leftovers(), []);
});

t.test('aborted while parts are in flight: the parts settle, every buffer comes back, nothing is left', async (t) => {
  const { budget } = watchedBudget(2 * CHUNK);
  const driver = gcs.driver({ prefix: 'env-pb', parallelParts: 3, buffers: budget });
  t.teardown(() => driver.close());
  const k = key('aborted.bin');
  const src = gatedSource(4 * CHUNK);
  const held = gcs.server.hold('single-upload');
  const controller = new AbortController();
  const write = driver.write({ key: k, body: src.body, maxBytes: MAX, meta: META, signal: controller.signal }).then(
    () => undefined,
    (e: unknown) => e,
  );
  await until(() => held.waiting === 2 && budget.counts().waiting === 1, 'two parts in flight and the writer waiting for a buffer');
  controller.abort();
  // The parts are still held: only the stop can end the writer's wait.
  await until(() => budget.counts().waiting === 0, 'the abort ended the wait for a buffer');
  t.equal(budget.counts().inUse, 2 * CHUNK, 'the buffers of the parts in flight stay taken until their requests settle');
  held.release();
  t.match(await write, { code: 'aborted' });
  await until(() => budget.counts().inUse === 0, 'every part buffer given back');
  await until(() => gcs.leftovers().length === 0, 'no part left once the cleanup ran');
  t.equal(budget.counts().waiting, 0, 'no wait left behind');
});

t.test('a source error while a part is being filled: that buffer comes back too', async (t) => {
  const { budget } = watchedBudget(4 * CHUNK);
  const driver = gcs.driver({ prefix: 'env-pb', parallelParts: 3, buffers: budget });
  t.teardown(() => driver.close());
  const src = gatedSource(CHUNK + 1000); // one part sent, the next one 1000 bytes filled
  const held = gcs.server.hold('single-upload');
  const write = driver.write({ key: key('source-error.bin'), body: src.body, maxBytes: MAX, meta: META, signal }).then(
    () => undefined,
    (e: unknown) => e,
  );
  await src.drained;
  await until(() => held.waiting === 1 && budget.counts().inUse === 2 * CHUNK, 'one part in flight, the next being filled');
  src.fail(new Error('upstream broke'));
  held.release();
  t.ok(await write, 'the write failed');
  await until(() => budget.counts().inUse === 0, 'every part buffer given back');
  await until(() => gcs.leftovers().length === 0, 'no part left once the cleanup ran');
});

t.test('parts failing past their retries stop the upload: the write rejects with their storage_error and holds no buffer', async (t) => {
  const { budget } = watchedBudget(2 * CHUNK);
  const driver = gcs.driver({ prefix: 'env-pb', parallelParts: 3, buffers: budget });
  t.teardown(() => driver.close());
  t.teardown(() => gcs.server.clearFaults());
  // Two parts, then 1000 bytes of a third and a source that says nothing more:
  // only the parts' failure can end this write.
  const src = gatedSource(2 * CHUNK + 1000);
  gcs.server.fail('single-upload', 503, { times: 100 });
  let settled = false;
  const write = driver.write({ key: key('parts-fail.bin'), body: src.body, maxBytes: MAX, meta: META, signal }).then(
    () => undefined,
    (e: unknown) => e,
  );
  void write.finally(() => (settled = true));
  await until(() => settled, 'the write settled once its parts had failed');
  // The cause tells the part's own error from the upload's stop (both would be a storage_error).
  t.match(await write, { code: 'storage_error', cause: { code: 503 } }, "the failed part's error, not the stop's");
  t.equal(budget.counts().inUse, 0, 'every part buffer given back');
  t.equal(budget.counts().waiting, 0, 'no wait left behind');
  t.ok(src.body.destroyed, 'the source was let go');
  await until(() => gcs.leftovers().length === 0, 'no part left once the cleanup ran');
});

t.test('a budget smaller than one part: one part at a time, and the write still finishes', async (t) => {
  const { budget, peak } = watchedBudget(CHUNK / 2);
  const driver = gcs.driver({ prefix: 'env-pb', parallelParts: 3, buffers: budget });
  t.teardown(() => driver.close());
  const size = 3 * CHUNK + 7;
  const held = gcs.server.hold('single-upload');
  const write = driver.write({ key: key('tiny-budget.bin'), body: patternStream(size, { seed: 4 }), maxBytes: MAX, meta: META, signal });
  await until(() => held.waiting === 1 && budget.counts().waiting === 1, 'one part in flight and the writer waiting for a buffer');
  held.release();
  const stored = await write;
  t.equal(stored.meta.sha256, patternSha256(size, 4));
  t.equal(peak(), CHUNK, 'one part buffer at a time (a buffer larger than the budget is granted only when none is in use)');
  t.equal(budget.counts().inUse, 0);
  t.same(gcs.leftovers(), []);
});

t.test('aborted while waiting for a free slot: the filled part is given back, nothing is left', async (t) => {
  const { budget } = watchedBudget(8 * CHUNK);
  const driver = gcs.driver({ prefix: 'env-pb', parallelParts: 2, buffers: budget });
  t.teardown(() => driver.close());
  const src = gatedSource(4 * CHUNK);
  const held = gcs.server.hold('single-upload');
  const controller = new AbortController();
  const write = driver.write({ key: key('slot-wait.bin'), body: src.body, maxBytes: MAX, meta: META, signal: controller.signal }).then(
    () => undefined,
    (e: unknown) => e,
  );
  // Two parts in flight (all slots), a third filled and waiting for a slot.
  await until(() => held.waiting === 2 && budget.counts().inUse === 3 * CHUNK, 'two parts in flight and a third one filled');
  controller.abort();
  held.release();
  t.match(await write, { code: 'aborted' });
  await until(() => budget.counts().inUse === 0, 'every part buffer given back, the one that waited for a slot included');
  await until(() => gcs.leftovers().length === 0, 'no part left once the cleanup ran');
  t.equal(budget.counts().waiting, 0);
});
