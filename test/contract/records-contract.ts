import { randomUUID } from 'node:crypto';
import { Readable } from 'node:stream';
import type { Test } from 'tap';
import type { StorageDriver } from '../../src/storage/driver.js';
import { RECORD_MAX_BYTES, type RecordStore } from '../../src/storage/records.js';

/**
 * The one conformance suite of the records contract (src/storage/records.ts),
 * run against every backend on its real server. A harness gives two drivers
 * over one store — separate clients, as two replicas have — and a view of the
 * store's physical names, to check where records live.
 */
export interface RecordsHarness {
  /** Two drivers over the same store (same bucket or root, same prefix), each with its own client. */
  drivers: [StorageDriver, StorageDriver];
  /** The store prefix the drivers were given, ending in '/'. */
  prefix: string;
  /** Where a logical record key lives physically: `physical(key)` is the name in the backend's own listing. */
  physical(key: string): string;
  /** Every physical name in the store (objects of the bucket; files under the local root, relative, '/'-separated). */
  physicalNames(): Promise<string[]>;
}

const text = (b: Buffer | undefined): string | undefined => b?.toString('utf8');

export function recordsContract(t: Test, name: string, open: () => Promise<RecordsHarness>): void {
  t.test(`${name}: records contract`, async (t) => {
    const h = await open();
    const [a, b] = h.drivers;
    t.teardown(async () => {
      await a.close();
      await b.close();
    });
    const ra = recordsOf(t, a);
    const rb = recordsOf(t, b);
    const base = `workspaces/ws-records/${randomUUID()}`;

    t.test('create on an absent key is true, and get returns the bytes', async (t) => {
      const key = `${base}/jobs/first.json`;
      const body = Buffer.from(Array.from({ length: 256 }, (_, i) => i)); // every byte value
      t.equal(await ra.create(key, body), true);
      t.same(await ra.get(key), body, 'the writer reads it');
      t.same(await rb.get(key), body, 'another replica reads it');
    });

    t.test('a second create is false and leaves the body untouched', async (t) => {
      const key = `${base}/jobs/second.json`;
      t.equal(await ra.create(key, Buffer.from('original')), true);
      t.equal(await ra.create(key, Buffer.from('same replica')), false);
      t.equal(await rb.create(key, Buffer.from('other replica')), false);
      t.equal(text(await ra.get(key)), 'original');
    });

    t.test('16 concurrent creates of one key from two replicas: exactly one is true', async (t) => {
      const key = `${base}/idem/race.json`;
      const results = await Promise.all(Array.from({ length: 16 }, (_, i) => (i % 2 ? rb : ra).create(key, Buffer.from(`writer ${i}`))));
      const winners = results.flatMap((won, i) => (won ? [i] : []));
      t.equal(winners.length, 1, `one winner (got ${winners.join(', ') || 'none'})`);
      t.equal(text(await ra.get(key)), `writer ${winners[0]}`, "the winner's body is the record");
    });

    t.test('put replaces, and creates when absent', async (t) => {
      const key = `${base}/shares/put.json`;
      await ra.put(key, Buffer.from('v1'));
      t.equal(text(await rb.get(key)), 'v1');
      await rb.put(key, Buffer.from('v2, longer than v1'));
      t.equal(text(await ra.get(key)), 'v2, longer than v1');
      t.equal(await ra.create(key, Buffer.from('v3')), false, 'a put record counts for create');
      await ra.put(key, Buffer.alloc(0));
      t.same(await ra.get(key), Buffer.alloc(0), 'an empty body is a record, not an absence');
    });

    t.test('get of an absent key is undefined', async (t) => {
      t.equal(await ra.get(`${base}/nothing/here.json`), undefined);
      t.equal(await ra.get(`${base}/nothing`), undefined, 'a prefix of other keys is no record');
    });

    t.test('delete is idempotent', async (t) => {
      const key = `${base}/del/one.json`;
      await ra.create(key, Buffer.from('x'));
      await rb.delete(key);
      t.equal(await ra.get(key), undefined, 'gone for every replica');
      await ra.delete(key);
      await ra.delete(`${base}/del/never-was.json`);
      t.equal(await ra.create(key, Buffer.from('again')), true, 'a deleted key can be created again');
      t.equal(text(await rb.get(key)), 'again');
    });

    t.test('list: logical keys under a prefix, ascending, paged by cursor', async (t) => {
      const dir = `${base}/list/`;
      const names = ['k-05', 'k-01', 'sub/k-03', 'k-02', 'k-04', 'k-06.json', 'z'];
      for (const n of names) await ra.create(dir + n, Buffer.from(n));
      await ra.create(`${base}/listx`, Buffer.from('beside the prefix'));
      const seen: string[] = [];
      let cursor: string | undefined;
      let pages = 0;
      do {
        const page = await rb.list(dir, { limit: 2, ...(cursor ? { cursor } : {}) });
        t.ok(page.keys.length <= 2, `page ${pages} holds at most the limit`);
        seen.push(...page.keys);
        cursor = page.cursor;
        pages++;
        if (pages > 10) break;
      } while (cursor);
      const expected = names.map((n) => dir + n).sort();
      t.same(seen, expected, 'every key once, ascending, logical');
      t.ok(pages >= 4, `${pages} pages of at most 2`);
      t.same((await ra.list(dir, { limit: 1000 })).keys, expected, 'one page when it fits');
      t.same(await ra.list(`${base}/list/none-`, { limit: 10 }), { keys: [] }, 'an empty page without a cursor');
    });

    t.test('list: a cursor this API did not return is invalid_request, on every store, before any store call', async (t) => {
      // The job list hands a caller's cursor to list(); S3 answered a garbled ContinuationToken with 400, which
      // came out as a 502 storage_error (fauxqs accepts any token, so only the check before the call proves it).
      const dir = `${base}/cursor/`;
      for (const n of ['a', 'b', 'c']) await ra.create(dir + n, Buffer.from(n));
      const first = await rb.list(dir, { limit: 1 });
      t.ok(first.cursor, 'a first page with a cursor');
      const other = (await rb.list(`${base}/list/`, { limit: 1 })).cursor;
      const refused = ['not-a-cursor!', 'AAAA', `${first.cursor}=`, Buffer.from('workspaces/other/jobs/x').toString('base64url'), other ?? 'x', 'x'.repeat(5000)];
      for (const cursor of refused) {
        await t.rejects(rb.list(dir, { limit: 1, cursor }), { code: 'invalid_request', details: { field: 'cursor' }, message: /cursor is not one this API returned; start again without it/ }, `refused: ${cursor.slice(0, 40)}`);
      }
      const second = await rb.list(dir, { limit: 5, cursor: first.cursor as string });
      t.same(second, { keys: [dir + 'b', dir + 'c'] }, 'the cursor it returned goes on after its key');
    });

    t.test('the store prefix is applied physically and stripped', async (t) => {
      const key = `${base}/layout/where.json`;
      await ra.create(key, Buffer.from('here'));
      const physical = await h.physicalNames();
      t.ok(physical.includes(h.physical(key)), `stored at ${h.physical(key)}`);
      t.notOk(physical.includes(key), 'not at the bare logical key');
      const listed = await ra.list(`${base}/layout/`, { limit: 10 });
      t.same(listed.keys, [key], 'listed by its logical key');
    });

    t.test('records and blobs never show in each other\'s listings', async (t) => {
      const ws = `${base}/mixed/`;
      await ra.create(`${ws}jobs/j1.json`, Buffer.from('{}'));
      await a.write({
        key: `${ws}blob.bin`,
        body: Readable.from([Buffer.from('blob bytes')]),
        maxBytes: 100,
        meta: { contentType: 'application/octet-stream', tier: 'retained', createdAt: '2026-12-01T00:00:00.000Z' },
        signal: new AbortController().signal,
      });
      t.same((await ra.list(ws, { limit: 100 })).keys, [`${ws}jobs/j1.json`], 'the records list shows no blob');
      const blobs = await allBlobKeys(a, 'workspaces/');
      t.ok(blobs.includes(`${ws}blob.bin`), 'the blob list shows the blob');
      t.same(blobs.filter((k) => k.includes('/jobs/') || k.includes('.blobgate-records')), [], 'the blob list of workspaces/ shows no record');
      t.same((await allBlobKeys(a, '')).filter((k) => k.includes('.blobgate-records') || k.includes('/jobs/')), [], 'nor does the whole store listing');
      await t.rejects(a.head(`${ws}jobs/j1.json`), { code: 'not_found' }, 'a record is no blob');
      t.equal(await ra.get(`${ws}blob.bin`), undefined, 'a blob is no record');
      await a.delete(`${ws}blob.bin`);
    });

    t.test('a key with an empty, "." or ".." segment is refused with path_invalid', async (t) => {
      for (const key of ['../escape.json', '../../../../etc/passwd', `${base}/../../other`, `${base}/a/../b.json`, `${base}/./c.json`, `/${base}/abs.json`, `${base}//d.json`, `${base}/e/`, `${base}/back\\slash.json`, `${base}/nul\u0000.json`, `${base}/line\nfeed.json`, '']) {
        for (const [what, call] of [
          ['create', () => ra.create(key, Buffer.from('x'))],
          ['put', () => ra.put(key, Buffer.from('x'))],
          ['get', () => ra.get(key)],
          ['delete', () => ra.delete(key)],
        ] as const) {
          await t.rejects(call().then(() => undefined), { code: 'path_invalid' }, `${what} ${JSON.stringify(key)}`);
        }
      }
      t.same((await h.physicalNames()).filter((n) => n.includes('escape') || n.endsWith('/x')), [], 'nothing written');
    });

    t.test('a body over RECORD_MAX_BYTES is refused; exactly the limit is kept', async (t) => {
      await t.rejects(ra.create(`${base}/big/over`, Buffer.alloc(RECORD_MAX_BYTES + 1)), { code: 'storage_error' });
      await t.rejects(ra.put(`${base}/big/over`, Buffer.alloc(RECORD_MAX_BYTES + 1)), { code: 'storage_error' });
      t.equal(await ra.get(`${base}/big/over`), undefined);
      const full = Buffer.alloc(RECORD_MAX_BYTES, 7);
      t.equal(await ra.create(`${base}/big/full`, full), true);
      t.same(await rb.get(`${base}/big/full`), full);
    });
  });
}

function recordsOf(t: Test, driver: StorageDriver): RecordStore {
  const records = driver.records;
  if (records === undefined) {
    t.fail(`the ${driver.backend} driver has no records`);
    throw new Error('no records');
  }
  return records;
}

async function allBlobKeys(driver: StorageDriver, prefix: string): Promise<string[]> {
  const keys: string[] = [];
  let cursor: string | undefined;
  do {
    const page = await driver.list({ prefix, limit: 1000, ...(cursor ? { cursor } : {}) });
    keys.push(...page.items.map((i) => i.key));
    cursor = page.cursor;
  } while (cursor);
  return keys;
}
