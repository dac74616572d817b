import { createHash } from 'node:crypto';
import { readdir, readFile, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import t from 'tap';
import { DurableFileSink } from '../../src/storage/local/durable-file-sink.js';

/** `count` chunks of `size` bytes, each different, handed out one per read. */
function chunks(count: number, size: number): Buffer[] {
  return Array.from({ length: count }, (_, i) => Buffer.alloc(size, i % 251));
}

const openFds = async (): Promise<number> => (await readdir('/proc/self/fd')).length;

t.test('writes every byte in order and starts early syncs as the file grows', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'bg-sink-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const body = chunks(64, 64 * 1024); // 4 MiB
  const sink = new DurableFileSink(join(dir, 'f'), { highWaterMark: 256 * 1024, syncEveryBytes: 512 * 1024 });
  await pipeline(Readable.from(body), sink);
  const got = await readFile(join(dir, 'f'));
  t.equal(got.length, 4 * 1024 * 1024);
  t.equal(createHash('sha256').update(got).digest('hex'), createHash('sha256').update(Buffer.concat(body)).digest('hex'));
  t.ok(sink.earlySyncs >= 1, `early syncs started (${sink.earlySyncs})`);
  t.ok(sink.earlySyncs <= 8, 'at most one per syncEveryBytes written');
});

t.test('syncEveryBytes 0: no early syncs, the bytes still land', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'bg-sink-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const sink = new DurableFileSink(join(dir, 'f'), { highWaterMark: 1024, syncEveryBytes: 0 });
  await pipeline(Readable.from(chunks(8, 1000)), sink);
  t.equal((await readFile(join(dir, 'f'))).length, 8000);
  t.equal(sink.earlySyncs, 0);
});

t.test('never opens an existing file', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'bg-sink-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  await writeFile(join(dir, 'f'), 'kept');
  const sink = new DurableFileSink(join(dir, 'f'), { highWaterMark: 1024, syncEveryBytes: 0 });
  await t.rejects(pipeline(Readable.from([Buffer.from('new')]), sink), { code: 'EEXIST' });
  t.equal(await readFile(join(dir, 'f'), 'utf8'), 'kept');
});

t.test('a failed source closes the file descriptor, also with a sync in flight', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'bg-sink-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const before = await openFds();
  const sink = new DurableFileSink(join(dir, 'f'), { highWaterMark: 64 * 1024, syncEveryBytes: 64 * 1024 });
  const source = Readable.from(
    (function* () {
      for (const c of chunks(16, 64 * 1024)) yield c;
      throw new Error('upstream reset');
    })(),
  );
  await t.rejects(pipeline(source, sink), /upstream reset/);
  await new Promise<void>((resolve) => (sink.closed ? resolve() : sink.once('close', () => resolve())));
  t.ok(sink.earlySyncs >= 1, 'an early sync had been started');
  t.equal(await openFds(), before, 'no descriptor left open');
});
