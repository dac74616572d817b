import t from 'tap';
import { formatBytes, formatDuration, Progress, progressStats, renderLine } from '../../src/cli/progress.js';

t.test('progressStats: average rate since the start and the ETA at that rate', async (t) => {
  t.same(progressStats(0, 1000, 0), { done: 0, total: 1000, ratio: 0, rate: 0, etaSeconds: undefined }, 'no byte yet: no ETA');
  t.same(progressStats(512, 1024, 2000), { done: 512, total: 1024, ratio: 0.5, rate: 256, etaSeconds: 2 });
  t.same(progressStats(10 * 1024 * 1024, 40 * 1024 * 1024, 500), { done: 10485760, total: 41943040, ratio: 0.25, rate: 20971520, etaSeconds: 1.5 });
  t.same(progressStats(1024, 1024, 4000), { done: 1024, total: 1024, ratio: 1, rate: 256, etaSeconds: 0 }, 'done: ETA 0');
  t.same(progressStats(300, undefined, 3000), { done: 300, total: undefined, ratio: undefined, rate: 100, etaSeconds: undefined }, 'unknown total');
  t.same(progressStats(0, 0, 10), { done: 0, total: 0, ratio: 1, rate: 0, etaSeconds: undefined }, 'an empty body is complete');
  t.equal(progressStats(100, 1000, 0).rate, 100_000, 'elapsed 0 counts as 1 ms (no division by zero)');
  t.equal(progressStats(2000, 1000, 1000).ratio, 1, 'ratio is capped at 1 when the total lied');
});

t.test('formatBytes and formatDuration', async (t) => {
  t.equal(formatBytes(0), '0 B');
  t.equal(formatBytes(1023), '1023 B');
  t.equal(formatBytes(1024), '1.0 KiB');
  t.equal(formatBytes(1536), '1.5 KiB');
  t.equal(formatBytes(6 * 1024 * 1024 + 3), '6.0 MiB');
  t.equal(formatBytes(3.25 * 1024 ** 3), '3.3 GiB');
  t.equal(formatDuration(0), '0s');
  t.equal(formatDuration(0.2), '1s');
  t.equal(formatDuration(59), '59s');
  t.equal(formatDuration(61), '1m01s');
  t.equal(formatDuration(3725), '1h02m');
});

t.test('renderLine: bar, percent, bytes, rate, ETA; final line with the time taken', async (t) => {
  const st = progressStats(512 * 1024, 1024 * 1024, 1000);
  t.equal(renderLine('a.bin', st, { columns: 100 }), `a.bin [${'#'.repeat(15)}${'-'.repeat(15)}]  50%  512.0 KiB / 1.0 MiB  512.0 KiB/s  ETA 1s`);
  t.equal(renderLine('a.bin', st, { columns: 40 }), 'a.bin   50%  512.0 KiB / 1.0 MiB  512.0 KiB/s  ETA 1s', 'narrow terminal: no bar');
  t.equal(renderLine('a.bin', progressStats(2048, undefined, 1000), { columns: 100 }), 'a.bin  2.0 KiB  2.0 KiB/s', 'unknown total: bytes and rate');
  const done = progressStats(1024 * 1024, 1024 * 1024, 2500);
  t.equal(renderLine('a.bin', done, { columns: 100, final: true, elapsedMs: 2500 }), `a.bin [${'#'.repeat(30)}] 100%  1.0 MiB / 1.0 MiB  409.6 KiB/s  in 2.5s`);
  t.match(renderLine('a-very-long-file-name-that-goes-on-and-on.csv', st, { columns: 100 }), /^…that-goes-on-and-on\.csv \[/, 'long labels keep their end');
});

t.test('Progress: only on a TTY, redraws at most every 100 ms, ends with one final line', async (t) => {
  t.equal(Progress.create('x', 10, fakeStream(false).stream), undefined, 'no bar when the stream is not a terminal');
  let now = 1_000;
  const out = fakeStream(true);
  const p = Progress.create('x', 1000, out.stream, () => now)!;
  t.ok(p);
  p.add(100); // first chunk: drawn at once
  now += 50;
  p.add(100); // 50 ms later: throttled
  now += 60;
  p.add(100); // 110 ms after the first draw: drawn
  t.equal(out.writes.length, 2, 'two redraws for three chunks');
  t.match(out.writes[1], /^\r.*300 B \/ 1000 B.*B\/s.*ETA/);
  t.ok(out.writes[1]!.endsWith('\x1b[K'), 'clears the rest of the line');
  now += 100;
  p.add(700);
  p.finish();
  const last = out.writes.slice(-2).join('');
  t.match(last, /100%  1000 B \/ 1000 B .*B\/s  in 0\.2s\x1b\[K\n$/);
});

function fakeStream(isTTY: boolean): { stream: NodeJS.WriteStream; writes: string[] } {
  const writes: string[] = [];
  const stream = { isTTY, columns: 100, write: (s: string) => (writes.push(s), true) } as unknown as NodeJS.WriteStream;
  return { stream, writes };
}
