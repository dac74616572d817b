// Record writes of a job are bounded by heartbeats, never one per chunk (docs/jobs.md#one-writer-per-job):
// a job that moves 20,000 chunks over a few heartbeats writes its record a handful of times.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { JobEngine } from '../../src/jobs/engine.js';
import { JobStore } from '../../src/jobs/job-store.js';
import { LocalDriver } from '../../src/storage/local/local-driver.js';
import type { RecordStore } from '../../src/storage/records.js';
import { until } from '../helpers/until.js';

function counted(inner: RecordStore) {
  const counts = { create: 0, put: 0, get: 0, delete: 0, list: 0 };
  const store: RecordStore = {
    create: (k, b) => (counts.create++, inner.create(k, b)),
    put: (k, b) => (counts.put++, inner.put(k, b)),
    get: (k) => (counts.get++, inner.get(k)),
    delete: (k) => (counts.delete++, inner.delete(k)),
    list: (p, o) => (counts.list++, inner.list(p, o)),
  };
  return { store, counts };
}

t.test('a job writes its record once a heartbeat, however many chunks it moves', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'bg-record-writes-'));
  const driver = await LocalDriver.open({ root: dir });
  t.teardown(async () => {
    await driver.close();
    await rm(dir, { recursive: true, force: true });
  });
  const { store, counts } = counted(driver.records);
  const heartbeatMs = 100;
  const engine = new JobEngine(new JobStore(store), { heartbeatMs, lostAfterMs: 1000, retentionMs: 60_000, idempotencyRetentionMs: 60_000 });
  const CHUNKS = 20_000;
  let beats = 0;
  const started = Date.now();
  const { job } = await engine.submit({
    workspace: 'ws-1',
    kind: 'step',
    idempotency: { key: 'k', digest: 'a'.repeat(64), fingerprint: 'f' },
    work: async (ctl) => {
      ctl.started();
      for (let i = 0; i < CHUNKS; i++) {
        ctl.moved(64 * 1024);
        // Spread the chunks over about five heartbeats, waiting on the heartbeats themselves.
        if (i % 4000 === 3999) {
          const seen = counts.put;
          await until('a heartbeat', () => counts.put > seen);
          beats++;
        }
      }
      return { status: 200, body: { ok: true } };
    },
  });
  const ended = await engine.settle('ws-1', job.id, AbortSignal.timeout(30_000));
  t.equal(ended?.state, 'succeeded');
  t.equal(ended?.bytes, CHUNKS * 64 * 1024);
  const elapsedBeats = Math.ceil((Date.now() - started) / heartbeatMs);
  t.equal(counts.create, 2, 'one create for the job, one for the idempotency attempt');
  // running + one per heartbeat + the final one; far below one per chunk.
  t.ok(counts.put <= elapsedBeats + 3, `${counts.put} record puts over ${elapsedBeats} heartbeats`);
  t.ok(counts.put >= beats, 'the heartbeats did write');
  t.ok(counts.get <= elapsedBeats + 2, `${counts.get} gets (the cancel marker, once a heartbeat)`);
  t.equal(counts.delete, 0, 'no cancel marker to clear');
});

t.test('a replica that cannot write a job record stops the transfer before others call it lost', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'bg-record-fence-'));
  const driver = await LocalDriver.open({ root: dir });
  t.teardown(async () => {
    await driver.close();
    await rm(dir, { recursive: true, force: true });
  });
  let failing = false;
  const inner = driver.records;
  const store: RecordStore = {
    create: (k, b) => inner.create(k, b),
    put: (k, b) => (failing ? Promise.reject(new Error('store down')) : inner.put(k, b)),
    get: (k) => inner.get(k),
    delete: (k) => inner.delete(k),
    list: (p, o) => inner.list(p, o),
  };
  const engine = new JobEngine(new JobStore(store), { heartbeatMs: 50, lostAfterMs: 400, retentionMs: 60_000, idempotencyRetentionMs: 60_000 });
  let aborted: unknown;
  const { job } = await engine.submit({
    workspace: 'ws-1',
    kind: 'step',
    work: (ctl) =>
      new Promise((_resolve, reject) => {
        ctl.started();
        ctl.controller.signal.addEventListener('abort', () => {
          aborted = ctl.controller.signal.reason;
          // The store comes back: the job's last record can be written.
          failing = false;
          reject(aborted);
        });
        void until('the running record was written', async () => (await engine.list('ws-1', { limit: 10 })).items.some((j) => j.state === 'running')).then(() => (failing = true));
      }),
  });
  const ended = await engine.settle('ws-1', job.id, AbortSignal.timeout(10_000));
  t.match(aborted, { code: 'aborted', details: { reason: 'fenced' } }, 'the transfer was stopped');
  t.equal(ended?.state, 'lost');
  t.equal(ended?.restartable, true, 'its key may run it again');
});
