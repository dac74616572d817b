import { createHash, randomBytes } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { PassThrough, Readable } from 'node:stream';
import t, { type Test } from 'tap';
import { localLeftovers } from '../contract/local-leftovers.js';
import { INLINE_MAX_BYTES } from '../../src/storage/local/local-driver.js';
import { tempLocalStore, writeRequest } from '../helpers/local-store.js';

/*
 * A body announced at most INLINE_MAX_BYTES is kept inside its meta file
 * (issue 18, small objects: one durable file per object instead of two).
 * What that layout must still do: read back whole and by range, spill to a
 * data file when the announcement was wrong, replace and be replaced by a
 * file-backed version without leaving the old data file, fail without
 * leaving anything, and be left alone by the crash sweep.
 */

const store = (t: Test): ReturnType<typeof tempLocalStore> => tempLocalStore(t);

const request = writeRequest;

async function bytesOf(body: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of body) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

/** Every data file under objects/ (the inline layout writes none). */
async function dataFiles(root: string): Promise<string[]> {
  const entries = await readdir(join(root, 'objects'), { recursive: true, withFileTypes: true });
  return entries.filter((e) => e.isFile()).map((e) => e.name);
}

const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

t.test('a body announced small lives in its meta file: no data file, read back whole and by range', async (t) => {
  const { root, driver } = await store(t);
  const body = randomBytes(1024);
  const stored = await driver.write(request('workspaces/ws/s', Readable.from([body.subarray(0, 100), body.subarray(100)]), { expectedSize: body.length }));
  t.equal(stored.meta.size, 1024);
  t.equal(stored.meta.sha256, sha(body));
  t.same(await dataFiles(root), [], 'no data file under objects/');
  const meta = JSON.parse(await readFile(join(root, 'meta', 'workspaces', 'ws', 's'), 'utf8')) as Record<string, unknown>;
  t.equal(meta.inline, body.toString('base64'), 'the meta file holds the bytes');
  t.equal(meta.data, undefined);
  t.ok((await bytesOf((await driver.read('workspaces/ws/s')).body)).equals(body), 'read back whole');
  const ranged = await driver.read('workspaces/ws/s', { start: 10, end: 19 });
  t.same(ranged.range, { start: 10, end: 19 });
  t.ok((await bytesOf(ranged.body)).equals(body.subarray(10, 20)), 'read back by range');
  t.notOk('inline' in (await driver.head('workspaces/ws/s')).meta, 'head shows no storage detail');
  const listed = await driver.list({ prefix: 'workspaces/ws/', limit: 10 });
  t.same(listed.items.map((i) => [i.key, i.meta.size, 'inline' in i.meta]), [['workspaces/ws/s', 1024, false]]);
  t.same(await localLeftovers(root), []);
});

t.test('an empty body and a body of exactly the limit stay inline', async (t) => {
  const { root, driver } = await store(t);
  await driver.write(request('workspaces/ws/empty', Readable.from([]), { expectedSize: 0 }));
  t.equal((await bytesOf((await driver.read('workspaces/ws/empty')).body)).length, 0);
  const full = randomBytes(INLINE_MAX_BYTES);
  await driver.write(request('workspaces/ws/full', Readable.from([full]), { expectedSize: full.length }));
  t.ok((await bytesOf((await driver.read('workspaces/ws/full')).body)).equals(full));
  t.same(await dataFiles(root), []);
});

t.test('a body that grows past its announcement spills into a data file, and reads back whole', async (t) => {
  const { root, driver } = await store(t);
  const body = randomBytes(3 * INLINE_MAX_BYTES + 17);
  const source = new PassThrough();
  const written = driver.write(request('workspaces/ws/liar', source, { expectedSize: 10 }));
  for (let off = 0; off < body.length; off += 1000) source.write(body.subarray(off, off + 1000));
  source.end();
  const stored = await written;
  t.equal(stored.meta.size, body.length);
  t.equal(stored.meta.sha256, sha(body));
  t.equal((await dataFiles(root)).length, 1, 'one data file');
  t.ok((await bytesOf((await driver.read('workspaces/ws/liar')).body)).equals(body));
  t.same(await readdir(join(root, 'tmp')), [], 'no temp file');
});

t.test('overwrites between the two layouts leave only the current version', async (t) => {
  const { root, driver } = await store(t);
  const big = randomBytes(INLINE_MAX_BYTES * 4);
  const small = randomBytes(10);
  await driver.write(request('workspaces/ws/k', Readable.from([big])));
  t.equal((await dataFiles(root)).length, 1);
  await driver.write(request('workspaces/ws/k', Readable.from([small]), { expectedSize: small.length }));
  t.same(await dataFiles(root), [], 'the replaced data file is removed');
  t.ok((await bytesOf((await driver.read('workspaces/ws/k')).body)).equals(small));
  await driver.write(request('workspaces/ws/k', Readable.from([big])));
  t.ok((await bytesOf((await driver.read('workspaces/ws/k')).body)).equals(big));
  t.equal((await dataFiles(root)).length, 1);
  await driver.write(request('workspaces/ws/k', Readable.from([small]), { expectedSize: small.length }));
  await driver.delete('workspaces/ws/k');
  t.same(await dataFiles(root), []);
  await t.rejects(driver.head('workspaces/ws/k'), { code: 'not_found' });
  t.same(await localLeftovers(root), []);
});

t.test('a small write whose body fails, before or after it spilled, leaves nothing', async (t) => {
  const { root, driver } = await store(t);
  for (const sent of [100, 2 * INLINE_MAX_BYTES]) {
    const source = new PassThrough();
    const written = driver.write(request(`workspaces/ws/f${sent}`, source, { expectedSize: 50 }));
    source.write(randomBytes(sent));
    // Wait until the bytes have been taken in (the spill case: its temp file exists), then fail the source.
    while (source.readableLength > 0 || (sent > INLINE_MAX_BYTES && (await readdir(join(root, 'tmp'))).length === 0)) await new Promise((r) => setImmediate(r));
    source.destroy(new Error('upstream went away'));
    await t.rejects(written, { message: 'upstream went away' }, `${sent} bytes sent`);
    await t.rejects(driver.head(`workspaces/ws/f${sent}`), { code: 'not_found' });
  }
  t.same(await readdir(join(root, 'tmp')), [], 'no temp file');
  t.same(await dataFiles(root), []);
});

t.test('the crash sweep leaves inline objects alone and still takes orphaned data files', async (t) => {
  const { root, driver } = await store(t);
  const small = Buffer.from('small');
  await driver.write(request('workspaces/ws/inline', Readable.from([small]), { expectedSize: small.length }));
  await driver.write(request('workspaces/ws/file', Readable.from([randomBytes(INLINE_MAX_BYTES * 2)])));
  t.equal(await driver.sweepDebris(new Date(Date.now() + 60_000)), 0, 'nothing to sweep, and no "names no data file" stop');
  t.ok((await bytesOf((await driver.read('workspaces/ws/inline')).body)).equals(small));
  t.equal((await dataFiles(root)).length, 1, 'the file-backed object keeps its data');
});

t.test('the held bytes are a copy: a chunk the source reuses afterwards does not change the stored body', async (t) => {
  const { driver } = await store(t);
  const source = new PassThrough();
  const written = driver.write(request('workspaces/ws/copied', source, { expectedSize: 8 }));
  const chunk = Buffer.from('abcd');
  source.write(chunk);
  while (source.readableLength > 0) await new Promise((r) => setImmediate(r));
  await new Promise((r) => setImmediate(r));
  chunk.fill(0x7a); // a pooled or sliced buffer being reused by its owner
  source.end(Buffer.from('efgh'));
  await written;
  t.equal((await bytesOf((await driver.read('workspaces/ws/copied')).body)).toString(), 'abcdefgh');
});

t.test('a body announced small that passes the cap, held or spilled, is cap_exceeded and leaves nothing', async (t) => {
  const { root, driver } = await store(t);
  // Cap within the inline limit: refused while the bytes are still held. Cap above it: refused after the spill.
  for (const maxBytes of [1000, 3 * INLINE_MAX_BYTES]) {
    const body = randomBytes(maxBytes + 1);
    const chunks = Array.from({ length: Math.ceil(body.length / 500) }, (_, i) => body.subarray(i * 500, i * 500 + 500));
    await t.rejects(driver.write(request(`workspaces/ws/cap${maxBytes}`, Readable.from(chunks), { expectedSize: 10, maxBytes })), { code: 'cap_exceeded' }, `cap ${maxBytes}`);
    await t.rejects(driver.head(`workspaces/ws/cap${maxBytes}`), { code: 'not_found' });
  }
  t.same(await readdir(join(root, 'tmp')), [], 'no temp file');
  t.same(await dataFiles(root), [], 'no data file');
  t.same(await localLeftovers(root), []);
});
