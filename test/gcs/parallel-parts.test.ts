// Parallel composite uploads (src/storage/gcs/gcs-parts.ts): a body of more than one chunk
// goes up as parts in parallel under its staging name and is published by one compose
// carrying the complete meta; more than 32 parts are composed in tiers; memory stays at
// (parallel + 1) parts; retries and lost answers publish exactly once; nothing is left.
import { randomUUID } from 'node:crypto';
import t from 'tap';
import type { ObjectMetaInit } from '../../src/storage/driver.js';
import { composablePartSize } from '../../src/storage/gcs/gcs-write.js';
import { patternSha256, patternStream, sha256OfStream } from '../helpers/bytes.js';
import { CHUNK, FAST_RETRIES, gatedSource, startGcs, until } from './harness.js';

const gcs = await startGcs(t, 'bg-test', { retryTiming: FAST_RETRIES });
const driver = gcs.driver({ prefix: 'env-pp', parallelParts: 3 });
const signal = new AbortController().signal;
const META: ObjectMetaInit = { contentType: 'text/csv', tier: 'ephemeral', createdAt: '2026-12-02T02:00:00.000Z' };
const MAX = 256 * 1024 * 1024; // parts of CHUNK: 256 MiB / 1024 components = 256 KiB
const key = (name: string): string => `workspaces/ws-pp/${randomUUID()}/${name}`;

async function resource(name: string): Promise<Record<string, unknown>> {
  const r = await fetch(`${gcs.server.url}/storage/v1/b/${gcs.bucket}/o/${encodeURIComponent(name)}`);
  return (await r.json()) as Record<string, unknown>;
}

t.test('parts in parallel, one compose with the complete meta, nothing left', async (t) => {
  const k = key('report.csv');
  const size = 7 * CHUNK + 12_345; // 8 parts
  gcs.server.resetPeaks();
  const held = gcs.server.hold('single-upload');
  const write = driver.write({ key: k, body: patternStream(size, { chunkSize: 65_536 }), maxBytes: MAX, meta: META, signal });
  await until(() => held.waiting === 3, 'three parts in flight');
  held.release();
  const stored = await write;
  t.same(stored.meta, { ...META, size, sha256: patternSha256(size) });
  t.same((await driver.head(k)).meta, stored.meta, 'the object carries the complete meta');
  t.same(await sha256OfStream((await driver.read(k)).body), { sha256: patternSha256(size), size }, 'byte-identical');
  const r = await resource(`env-pp/${k}`);
  t.equal(r.componentCount, 8, 'a composite of the 8 parts');
  t.equal(r.contentType, 'text/csv');
  t.equal(gcs.server.peakConcurrency('single-upload'), 3, 'three parts in flight at once, never more');
  t.equal(gcs.server.peakConcurrency('compose'), 1);
  t.same(gcs.leftovers(), [], 'no part, no staging object');
});

t.test('more than 32 parts: composed in tiers, still one object with 1 component per part', async (t) => {
  const k = key('many.bin');
  const size = 70 * CHUNK + 1; // 71 parts → 3 intermediates (32, 32, 7) → the publish
  const stored = await driver.write({ key: k, body: patternStream(size), maxBytes: MAX, expectedSize: size, meta: META, signal });
  t.equal(stored.meta.sha256, patternSha256(size));
  t.same(await sha256OfStream((await driver.read(k)).body), { sha256: patternSha256(size), size });
  t.equal((await resource(`env-pp/${k}`)).componentCount, 71);
  t.same(gcs.leftovers(), []);
});

t.test('the part size grows so that a body of the cap takes at most 1024 components', async (t) => {
  t.equal(composablePartSize(8 << 20, 4 * 1024 ** 3), 8 << 20, 'the 4 GiB cap at the default 8 MiB chunk: unchanged');
  t.equal(composablePartSize(CHUNK, 4 * 1024 ** 3), 4 << 20, '256 KiB chunks under the 4 GiB cap: 4 MiB parts');
  t.equal(composablePartSize(CHUNK, 1024 * CHUNK + 1), 2 * CHUNK, 'rounded up to a whole 256 KiB');
  t.equal(composablePartSize(CHUNK, 1024 ** 4), undefined, 'a 1 TiB cap would need 1 GiB parts: the resumable upload instead');
  const k = key('grown.bin');
  const size = 3 * CHUNK;
  await driver.write({ key: k, body: patternStream(size), maxBytes: 2048 * CHUNK, meta: META, signal });
  t.equal((await resource(`env-pp/${k}`)).componentCount, 2, 'parts of 512 KiB under a 512 MiB cap');
});

t.test('an existing object is replaced in one step; mid-upload it is intact', async (t) => {
  const k = key('over.bin');
  await driver.write({ key: k, body: patternStream(1000, { seed: 3 }), maxBytes: MAX, meta: META, signal });
  const before = 5 * CHUNK;
  const src = gatedSource(before);
  const write = driver.write({ key: k, body: src.body, maxBytes: MAX, meta: META, signal });
  await src.drained;
  await until(() => gcs.server.objectNames(gcs.bucket).filter((n) => n.includes('/part-')).length >= 4, 'four parts stored');
  t.equal((await driver.head(k)).meta.sha256, patternSha256(1000, 3), 'mid-upload: the old object');
  t.same((await driver.list({ prefix: 'workspaces/ws-pp/', limit: 1000 })).items.filter((i) => i.key.includes('staging')), [], 'no part in a listing');
  src.body.push(null);
  const stored = await write;
  t.equal((await driver.head(k)).meta.sha256, stored.meta.sha256);
  t.equal(stored.meta.size, before);
  t.same(gcs.leftovers(), []);
});

t.test('a part whose answer is lost: the retry meets its own part (412) and accepts it', async (t) => {
  const k = key('lost-part.bin');
  const size = 4 * CHUNK + 9;
  const lost = gcs.server.failAfter('single-upload', 503, { skip: 1 });
  const stored = await driver.write({ key: k, body: patternStream(size), maxBytes: MAX, meta: META, signal });
  t.equal(lost.hits, 1, 'the second part was stored and its answer lost');
  t.same(await sha256OfStream((await driver.read(k)).body), { sha256: patternSha256(size), size });
  t.same(gcs.leftovers(), []);
});

t.test('a part or a compose failing once is retried by the client: the write succeeds', async (t) => {
  for (const op of ['single-upload', 'compose'] as const) {
    const k = key(`${op}.bin`);
    const size = 3 * CHUNK + 1;
    const fault = gcs.server.fail(op, 'drop', { skip: op === 'single-upload' ? 2 : 0 });
    const stored = await driver.write({ key: k, body: patternStream(size), maxBytes: MAX, meta: META, signal });
    t.equal(fault.hits, 1, `${op}: one request dropped`);
    t.equal(stored.meta.sha256, patternSha256(size));
    t.same(gcs.leftovers(), [], `${op}: nothing left`);
  }
});

t.test('a compose whose answer is lost publishes once; the write confirms it', async (t) => {
  const k = key('lost-compose.bin');
  const size = 3 * CHUNK + 5;
  const lost = gcs.server.failAfter('compose', 'drop');
  const stored = await driver.write({ key: k, body: patternStream(size), maxBytes: MAX, meta: META, signal });
  t.equal(lost.hits, 1);
  t.same((await driver.head(k)).meta, stored.meta);
  t.same(gcs.leftovers(), []);
});

t.test('parallelParts 1: the resumable upload, published by a rewrite', async (t) => {
  const d = gcs.driver({ prefix: 'env-pp', parallelParts: 1 });
  const k = key('resumable.bin');
  const size = 3 * CHUNK + 5;
  gcs.server.resetPeaks();
  await d.write({ key: k, body: patternStream(size), maxBytes: MAX, meta: META, signal });
  t.equal((await resource(`env-pp/${k}`)).componentCount, undefined, 'not a composite');
  t.equal(gcs.server.peakConcurrency('session-start'), 1);
  t.equal(gcs.server.peakConcurrency('compose'), 0);
  t.same(gcs.leftovers(), []);
});
