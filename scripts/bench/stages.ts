/**
 * CPU of the staged write's read path alone (no store, no network): 1 GiB
 * from a Readable through the write's ByteMeter (count, cap, sha256) and the
 * head feed that S3's and GCS's staged uploads read, as the write does it
 * now and with the `Readable.from` around the feed that it had before.
 * In-process and alternating, so the difference between two stage layouts
 * shows where an end-to-end run on a loaded machine drowns it.
 *
 *   node --import tsx scripts/bench/stages.ts [--runs=N]
 */
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { ByteMeter } from '../../src/storage/meter.js';
import { feed } from '../../src/storage/stream-head.js';

const GiB = 1024 * 1024 * 1024;
const runs = Number(process.argv.find((a) => a.startsWith('--runs='))?.slice('--runs='.length) ?? 5);

function source(chunk: number): Readable {
  const pattern = Buffer.alloc(chunk, 7);
  let left = GiB;
  return new Readable({
    read() {
      if (left <= 0) return void this.push(null);
      left -= chunk;
      this.push(Buffer.from(pattern)); // a fresh buffer per chunk, as a socket gives
    },
  });
}

/** Seconds of CPU to read 1 GiB in `chunk`-byte chunks through the meter and the feed. */
async function once(chunk: number, wrapped: boolean): Promise<number> {
  const meter = new ByteMeter(4 * GiB, () => undefined);
  const piped = pipeline(source(chunk), meter);
  const bytes = meter[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
  const before = process.cpuUsage();
  const body: AsyncIterable<Buffer> = wrapped ? Readable.from(feed([], bytes), { objectMode: false }) : feed([], bytes);
  let n = 0;
  for await (const c of body) n += c.length;
  await piped;
  const used = process.cpuUsage(before);
  if (n !== GiB) throw new Error(`read ${n} bytes, expected ${GiB}`);
  return (used.user + used.system) / 1e6;
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
for (const chunk of [16 * 1024, 64 * 1024]) {
  const feedOnly: number[] = [];
  const fromFeed: number[] = [];
  for (let i = 0; i < runs; i++) {
    fromFeed.push(await once(chunk, true));
    feedOnly.push(await once(chunk, false));
  }
  const s = (xs: number[]): string => xs.map((x) => x.toFixed(2)).join(', ');
  process.stdout.write(
    `${chunk / 1024} KiB chunks, CPU s/GiB (median of ${runs}): feed ${median(feedOnly).toFixed(2)} [${s(feedOnly)}], ` +
      `Readable.from(feed) ${median(fromFeed).toFixed(2)} [${s(fromFeed)}]\n`,
  );
}
