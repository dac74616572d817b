// The transfer-buffer budget (src/storage/buffer-budget.ts): it bounds the
// bytes of part buffers handed out, waiters proceed in order as buffers come
// back, a waiter whose signal fires leaves holding nothing — and S3 writes
// sharing one budget stay within it, all succeed, and give everything back.
import { Readable } from 'node:stream';
import t from 'tap';
import { Metrics } from '../../src/http/metrics.js';
import { TransferGate } from '../../src/http/transfer-gate.js';
import { BufferBudget, type BufferLease } from '../../src/storage/buffer-budget.js';
import type { ObjectMetaInit } from '../../src/storage/driver.js';
import { S3Driver } from '../../src/storage/s3/s3-driver.js';
import { MIN_PART_SIZE } from '../../src/storage/s3/s3-write.js';
import { patternChunk, patternSha256, patternStream } from '../helpers/bytes.js';
import { listedKeys, testClient } from '../../support/servers/s3/clients.js';
import { startS3Server } from '../../support/servers/s3/fauxqs.js';

const KiB = 1024;
const never = new AbortController().signal;

/** Resolves once the promise settled, else after the other pending microtasks/macrotasks ran: whether it is still waiting. */
async function pending(p: Promise<unknown>): Promise<boolean> {
  let done = false;
  p.then(
    () => (done = true),
    () => (done = true),
  );
  await new Promise((r) => setImmediate(r));
  return !done;
}

t.test('the budget bounds the bytes handed out; a waiter is served when a buffer comes back', async (t) => {
  const b = new BufferBudget(3 * KiB);
  const a1 = await b.acquire(KiB, never, true);
  const a2 = await b.acquire(KiB, never);
  const a3 = await b.acquire(KiB, never);
  t.same(b.counts(), { limit: 3 * KiB, inUse: 3 * KiB, idle: 0, waiting: 0 });
  const fourth = b.acquire(KiB, never);
  t.ok(await pending(fourth), 'the fourth waits');
  t.equal(b.counts().waiting, 1);
  a2.release();
  a2.release(); // idempotent
  const a4 = await fourth;
  t.equal(a4.buffer, a2.buffer, 'the given-back buffer is reused');
  t.same(b.counts(), { limit: 3 * KiB, inUse: 3 * KiB, idle: 0, waiting: 0 });
  for (const l of [a1, a3, a4]) l.release();
  t.same(b.counts(), { limit: 3 * KiB, inUse: 0, idle: 3 * KiB, waiting: 0 }, 'kept for reuse, within the budget');
});

t.test('waiters are served in order, and one asking for its first buffer goes first', async (t) => {
  const b = new BufferBudget(2 * KiB);
  const held = [await b.acquire(KiB, never, true), await b.acquire(KiB, never, true)];
  const order: string[] = [];
  const more1 = b.acquire(KiB, never).then((l) => (order.push('more1'), l));
  const more2 = b.acquire(KiB, never).then((l) => (order.push('more2'), l));
  const first = b.acquire(KiB, never, true).then((l) => (order.push('first'), l));
  t.ok(await pending(more1));
  held[0]!.release();
  const l1 = await first;
  held[1]!.release();
  const l2 = await more1;
  l1.release();
  const l3 = await more2;
  t.same(order, ['first', 'more1', 'more2']);
  l2.release();
  l3.release();
  t.equal(b.counts().inUse, 0);
});

t.test('a buffer larger than the budget is granted when none is in use (one part always fits)', async (t) => {
  const b = new BufferBudget(KiB);
  const small = await b.acquire(KiB, never, true);
  const big = b.acquire(4 * KiB, never, true);
  t.ok(await pending(big), 'waits while another is in use');
  small.release();
  const lease = await big;
  t.equal(lease.buffer.length, 4 * KiB);
  t.equal(b.counts().idle, 0, 'the idle buffer was dropped to make room');
  lease.release();
});

t.test('a waiter whose signal fires rejects aborted, holds nothing, and lets the next one through', async (t) => {
  const b = new BufferBudget(2 * KiB);
  const held = await b.acquire(2 * KiB, never, true);
  const ac = new AbortController();
  const aborted = b.acquire(2 * KiB, ac.signal);
  const next = b.acquire(KiB, never);
  ac.abort();
  await t.rejects(aborted, { code: 'aborted' });
  t.equal(b.counts().waiting, 1);
  held.release();
  (await next).release();
  t.same(b.counts(), { limit: 2 * KiB, inUse: 0, idle: KiB, waiting: 0 }, 'the 2 KiB buffer made room for the 1 KiB one');
});

t.test('the metrics report the budget', async (t) => {
  const b = new BufferBudget(8 * KiB);
  const lease = await b.acquire(2 * KiB, never, true);
  const metrics = new Metrics(new TransferGate(1, 0), { cleanupCounts: () => [], bufferCounts: () => b.counts() });
  const text = await metrics.registry.metrics();
  t.match(text, /blobgate_buffer_bytes\{state="in_use"\} 2048/);
  t.match(text, /blobgate_buffer_bytes\{state="limit"\} 8192/);
  t.match(text, /blobgate_buffer_waiters 0/);
  lease.release();
});

t.test('S3 writes sharing one budget', async (t) => {
  const bucket = 'bg-budget';
  const server = await startS3Server();
  t.teardown(() => server.stop());
  server.createBucket(bucket);
  const client = testClient(server.endpoint);
  const META: ObjectMetaInit = { contentType: 'application/octet-stream', tier: 'ephemeral', createdAt: '2026-12-02T00:00:00.000Z' };
  const PART = MIN_PART_SIZE;

  /** A budget that records the most bytes in use and waiters it ever had, at each grant. */
  class Watched extends BufferBudget {
    maxInUse = 0;
    maxWaiting = 0;
    override acquire(size: number, signal: AbortSignal, first?: boolean): Promise<BufferLease> {
      this.maxWaiting = Math.max(this.maxWaiting, this.counts().waiting + 1);
      return super.acquire(size, signal, first).then((l) => {
        this.maxInUse = Math.max(this.maxInUse, this.counts().inUse);
        return l;
      });
    }
  }

  t.test('three writes of four parts each, two parts of budget: within it, all succeed, all given back', async (t) => {
    const budget = new Watched(2 * PART);
    // Two drivers (two stores) on the one budget, as the registry builds them.
    const a = new S3Driver({ client, bucket, prefix: 'a/', partSize: PART, queueSize: 4, buffers: budget });
    const b = new S3Driver({ client, bucket, prefix: 'b/', partSize: PART, queueSize: 4, buffers: budget });
    t.teardown(async () => {
      await a.close();
      await b.close();
    });
    const size = 4 * PART - 11;
    const writes = [a, b, a].map((d, i) =>
      d.write({ key: `workspaces/ws/${i}.bin`, body: patternStream(size, { seed: i }), maxBytes: size, meta: META, signal: never }),
    );
    const stored = await Promise.all(writes);
    t.same(
      stored.map((s) => s.meta.sha256),
      [0, 1, 2].map((i) => patternSha256(size, i)),
      'every write stored every byte',
    );
    t.ok(budget.maxInUse <= 2 * PART, `never more than the budget in use (max ${budget.maxInUse})`);
    t.ok(budget.maxWaiting >= 2, 'writes did wait for buffers');
    t.equal(budget.counts().inUse, 0, 'everything given back');
  });

  t.test('a client that leaves while waiting for a buffer: aborted, nothing held, nothing stored', async (t) => {
    const budget = new BufferBudget(PART);
    const d = new S3Driver({ client, bucket, prefix: 'c/', partSize: PART, buffers: budget });
    t.teardown(() => d.close());
    // A holds the only buffer: its body stalls in part 2 until `open`.
    const sizeA = 2 * PART + 5;
    let offset = 0;
    let open = false;
    let stalled: () => void = () => undefined;
    const reached = new Promise<void>((r) => (stalled = r));
    let resume: () => void = () => undefined;
    const bodyA = new Readable({
      read() {
        if (offset >= sizeA) return void this.push(null);
        if (offset >= PART + 64 * KiB && !open) {
          resume = () => this._read(0);
          stalled();
          return;
        }
        const n = Math.min(64 * KiB, sizeA - offset);
        this.push(patternChunk(offset, n, 1));
        offset += n;
      },
    });
    const writeA = d.write({ key: 'workspaces/ws/a.bin', body: bodyA, maxBytes: sizeA, meta: META, signal: never });
    await reached;
    const ac = new AbortController();
    const bodyB = patternStream(2 * PART, { seed: 2 });
    const writeB = d.write({ key: 'workspaces/ws/b.bin', body: bodyB, maxBytes: 2 * PART, meta: META, signal: ac.signal });
    while (budget.counts().waiting === 0) await new Promise((r) => setImmediate(r));
    ac.abort();
    await t.rejects(writeB, { code: 'aborted' });
    t.ok(bodyB.destroyed, "B's body was destroyed");
    t.equal(budget.counts().waiting, 0, 'B waits no more');
    t.equal(budget.counts().inUse, PART, "only A's buffer is in use");
    // A goes on.
    open = true;
    resume();
    const a = await writeA;
    t.equal(a.meta.size, sizeA);
    t.equal(budget.counts().inUse, 0, 'everything given back');
    t.same(server.multipartUploads(bucket), [], 'no multipart upload left');
    t.same(await listedKeys(client, bucket, 'c/workspaces/ws/b'), [], 'nothing of B');
  });
});
