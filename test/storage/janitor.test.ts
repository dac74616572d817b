// The janitor owns a cleanup until it is done: a failed one is retried with
// backoff, counted, and logged once per failure; the queue is bounded; the
// sweep runs at start and periodically.
import t from 'tap';
import { Janitor, type JanitorEvent, cleanupLogLine } from '../../src/storage/janitor.js';

async function until(cond: () => boolean, what: string, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

const fast = { store: 's1', retryBaseMs: 10, retryMaxMs: 40, attemptWaitMs: 200 };

t.test('a cleanup that fails is retried with backoff until it is done; each failure is one event', async (t) => {
  const j = new Janitor(fast);
  t.teardown(() => j.close());
  const events: JanitorEvent[] = [];
  j.onEvent((e) => events.push(e));
  let calls = 0;
  const started = Date.now();
  await j.discard('abort upload u1', async () => {
    calls++;
    if (calls <= 3) throw Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:9'), { code: 'ECONNREFUSED' });
  });
  t.ok(Date.now() - started < 150, 'discard() returned after the first attempt');
  t.equal(j.counts().pending, 1, 'pending while the store is down');
  await until(() => j.counts().pending === 0, 'the cleanup to be done');
  t.equal(calls, 4);
  t.same(j.counts(), { pending: 0, done: 1, failed: 3, dropped: 0, swept: 0 });
  t.same(events.map((e) => e.type), ['cleanup-failed', 'cleanup-failed', 'cleanup-failed', 'cleanup-recovered']);
  t.same(events.map((e) => (e.type === 'cleanup-failed' ? e.attempt : e.type === 'cleanup-recovered' ? e.attempts : 0)), [1, 2, 3, 4]);
  const delays = events.flatMap((e) => (e.type === 'cleanup-failed' ? [e.retryInMs] : []));
  t.ok(delays.every((d, i) => d >= (Math.min(40, 10 * 2 ** i) / 2) && d <= Math.min(40, 10 * 2 ** i)), `backoff doubles, capped: ${delays.join(', ')} ms`);
});

t.test('discard() waits for a hanging first attempt no longer than attemptWaitMs', async (t) => {
  const j = new Janitor({ ...fast, attemptWaitMs: 50 });
  let release!: () => void;
  const started = Date.now();
  await j.discard('hangs', () => new Promise<void>((r) => (release = r)));
  t.ok(Date.now() - started < 500, 'returned');
  t.equal(j.counts().pending, 1, 'still owned');
  release();
  await until(() => j.counts().pending === 0, 'done');
  t.equal(j.counts().done, 1);
  await j.close();
});

t.test('the queue is bounded: beyond maxPending a failed cleanup is dropped, with an event', async (t) => {
  const j = new Janitor({ ...fast, maxPending: 2, retryBaseMs: 60_000, retryMaxMs: 60_000 });
  const events: JanitorEvent[] = [];
  j.onEvent((e) => events.push(e));
  const fail = async (): Promise<void> => {
    throw new Error('down');
  };
  for (const n of [1, 2, 3]) await j.discard(`c${n}`, fail);
  t.same(j.counts(), { pending: 2, done: 0, failed: 3, dropped: 1, swept: 0 });
  t.match(events.at(-1), { type: 'cleanup-dropped', what: 'c3', reason: 'queue-full' });
  await j.close();
  t.equal(j.counts().pending, 0, 'close() made the last attempts and gave up on the failing ones');
  t.equal(j.counts().dropped, 3);
});

t.test('close() makes one last attempt at pending cleanups', async (t) => {
  const j = new Janitor({ ...fast, retryBaseMs: 60_000, retryMaxMs: 60_000 });
  let up = false;
  await j.discard('later', async () => {
    if (!up) throw new Error('down');
  });
  t.equal(j.counts().pending, 1);
  up = true;
  await j.close();
  t.same(j.counts(), { pending: 0, done: 1, failed: 1, dropped: 0, swept: 0 });
});

t.test('the sweep runs at start and then every interval, with the grace period; failures are events', async (t) => {
  const j = new Janitor({ ...fast, graceMs: 3_600_000, sweepIntervalMs: 20 });
  const events: JanitorEvent[] = [];
  j.onEvent((e) => events.push(e));
  const seen: Date[] = [];
  j.start(async (olderThan) => {
    seen.push(olderThan);
    if (seen.length === 2) throw new Error('list failed');
    return seen.length === 1 ? 3 : 0;
  });
  await until(() => seen.length >= 3, 'three sweeps');
  await j.close();
  const first = seen[0]!.getTime();
  t.ok(Math.abs(Date.now() - 3_600_000 - first) < 5_000, 'olderThan is now minus the grace period');
  t.equal(j.counts().swept, 3, 'what the sweeps removed is counted');
  t.same(events.slice(0, 2).map((e) => e.type), ['swept', 'sweep-failed']);
});

t.test('a log line names the error, never what the request carried', async (t) => {
  const err = Object.assign(new Error('Request failed with status code 503\n<html>…</html>'), {
    code: 503,
    config: { headers: { Authorization: 'Bearer ya29.secret-token' }, url: 'https://storage.googleapis.com/upload?upload_id=SESSION-SECRET' },
    cause: Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' }),
  });
  const line = cleanupLogLine({ type: 'cleanup-failed', store: 'gcs-a', what: 'resumable upload to x', attempt: 1, retryInMs: 1000, err });
  t.equal(line.level, 'warn');
  const text = JSON.stringify(line);
  t.notMatch(text, /secret|Authorization|upload_id|<html>/i);
  t.match(line.fields, { store: 'gcs-a', attempt: 1, error: { status: 503, message: 'Request failed with status code 503', cause: { code: 'ECONNRESET' } } });
});
