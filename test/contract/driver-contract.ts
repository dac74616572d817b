import { randomUUID } from 'node:crypto';
import { Readable } from 'node:stream';
import type { Test } from 'tap';
import type { ObjectMetaInit, StorageDriver } from '../../src/storage/driver.js';
import { collect, patternChunk, patternSha256, patternStream, sha256OfStream } from '../helpers/bytes.js';

/**
 * The one conformance suite every storage driver passes, against a real
 * server. A harness gives a fresh driver and a way to see what a failed write
 * may have left behind in the backend (temp files, multipart uploads,
 * resumable sessions).
 */
export interface ContractHarness {
  driver: StorageDriver;
  /** Backend-specific debris: anything in-flight that a finished or failed write must not leave. */
  leftovers(): Promise<string[]>;
  /** Sizes worth a round trip on this backend besides 0, 1 and 1 MiB + 3 (e.g. part size ± 1). */
  extraSizes?: number[];
}

const META: ObjectMetaInit = {
  contentType: 'application/octet-stream',
  tier: 'retained',
  createdAt: '2026-11-22T10:00:00.000Z',
};

export function driverContract(t: Test, name: string, open: () => Promise<ContractHarness>): void {
  t.test(`${name}: storage driver contract`, async (t) => {
    const h = await open();
    const { driver } = h;
    t.teardown(() => driver.close());
    const base = `workspaces/ws-contract/${randomUUID()}`;
    const put = (key: string, body: Readable, maxBytes = 1 << 30, meta: ObjectMetaInit = META, signal = new AbortController().signal) =>
      driver.write({ key, body, maxBytes, meta, signal });
    const assertAbsent = async (t: Test, key: string) => {
      await t.rejects(driver.head(key), { code: 'not_found' }, 'nothing visible at the key');
      t.same(await h.leftovers(), [], 'nothing left behind in the backend');
      const listed = await driver.list({ prefix: key, limit: 10 });
      t.same(listed.items.map((i) => i.key), [], 'nothing listed at the key');
    };

    for (const size of [0, 1, 1024 * 1024 + 3, ...(h.extraSizes ?? [])]) {
      t.test(`round trip of ${size} bytes is byte-identical`, async (t) => {
        const key = `${base}/rt/${size}.bin`;
        const stored = await put(key, patternStream(size, { chunkSize: 100_003 }), size + 10);
        t.equal(stored.meta.size, size);
        t.equal(stored.meta.sha256, patternSha256(size));
        const read = await driver.read(key);
        t.same(await sha256OfStream(read.body), { sha256: patternSha256(size), size });
        const head = await driver.head(key);
        t.equal(head.meta.size, size);
        t.equal(head.meta.sha256, patternSha256(size));
        t.same(await h.leftovers(), []);
      });
    }

    t.test('meta round trips, including non-ASCII fields', async (t) => {
      const key = `${base}/meta/report.csv`;
      const meta: ObjectMetaInit = {
        contentType: 'text/csv',
        tier: 'ephemeral',
        createdAt: '2026-11-22T10:00:00.000Z',
        expiresAt: '2026-11-23T10:00:00.000Z',
        storage: { slot: 'archive', root: 'reports/acme', relativePath: 'exports/report.csv' },
        searchIndex: { text: 'invoice Ærø — 4500 €', tags: ['a', 'b'], sourceLabel: 'crm', includeRawContent: false },
      };
      await put(key, Readable.from([Buffer.from('a,b\n1,2\n')]), 100, meta);
      const head = await driver.head(key);
      t.same(head.meta, { ...meta, size: 8, sha256: head.meta.sha256 });
      t.match(head.meta.sha256, /^[0-9a-f]{64}$/);
    });

    t.test('a body of exactly maxBytes is accepted, one byte more is refused and leaves nothing', async (t) => {
      const cap = 300_001;
      const ok = await put(`${base}/cap/exact`, patternStream(cap), cap);
      t.equal(ok.meta.size, cap);
      const key = `${base}/cap/over`;
      await t.rejects(put(key, patternStream(cap + 1), cap), { code: 'cap_exceeded' });
      await assertAbsent(t, key);
    });

    t.test('a source that errors halfway leaves nothing and rejects with the source error', async (t) => {
      const key = `${base}/fail/halfway`;
      await t.rejects(put(key, patternStream(2_000_000, { failAfter: 700_000 })), { message: /source failed on purpose/ });
      await assertAbsent(t, key);
    });

    t.test('a failed write over an existing object keeps the old object', async (t) => {
      const key = `${base}/fail/overwrite`;
      await put(key, patternStream(1000, { seed: 1 }));
      await t.rejects(put(key, patternStream(2000, { seed: 2, failAfter: 1500 })));
      const read = await driver.read(key);
      t.same(await sha256OfStream(read.body), { sha256: patternSha256(1000, 1), size: 1000 });
      t.same(await h.leftovers(), []);
    });

    t.test('a successful write replaces an existing object and leaves nothing of the old one', async (t) => {
      const key = `${base}/overwrite`;
      await put(key, patternStream(1000, { seed: 1 }));
      await put(key, patternStream(500, { seed: 3 }));
      const read = await driver.read(key);
      t.same(await sha256OfStream(read.body), { sha256: patternSha256(500, 3), size: 500 });
      t.same(await h.leftovers(), [], 'nothing left of the previous version');
    });

    t.test('concurrent writes to one key leave one whole version: bytes, size and sha256 agree', async (t) => {
      const key = `${base}/race/obj`;
      for (let round = 0; round < 5; round++) {
        const sizes = [1000, 120_000, 7, 65_536 + 13];
        await Promise.all(sizes.map((size, i) => put(key, patternStream(size, { seed: round * 10 + i, chunkSize: 4096 }))));
        const head = await driver.head(key);
        const read = await driver.read(key);
        const got = await sha256OfStream(read.body);
        t.same(got, { sha256: head.meta.sha256, size: head.meta.size }, `round ${round}: the stored bytes match their meta`);
        t.ok(sizes.includes(head.meta.size), 'one of the versions written');
      }
      t.same(await h.leftovers(), []);
    });

    t.test('aborting mid-write leaves nothing', async (t) => {
      const key = `${base}/abort/mid`;
      const ac = new AbortController();
      let produced = 0;
      const body = new Readable({
        read() {
          produced += 65536;
          if (produced > 600_000) ac.abort();
          this.push(patternChunk(produced, 65536));
        },
      });
      await t.rejects(put(key, body, 1 << 30, META, ac.signal), { code: 'aborted' });
      t.ok(body.destroyed, 'the driver destroyed the body it owned');
      await assertAbsent(t, key);
    });

    t.test('a signal aborted before the write starts leaves nothing and destroys the body', async (t) => {
      const key = `${base}/abort/early`;
      const ac = new AbortController();
      ac.abort();
      const body = patternStream(10);
      await t.rejects(put(key, body, 100, META, ac.signal), { code: 'aborted' });
      t.ok(body.destroyed);
      await assertAbsent(t, key);
    });

    t.test('ranged reads', async (t) => {
      const key = `${base}/range/obj`;
      const size = 10_000;
      await put(key, patternStream(size));
      const whole = patternChunk(0, size);
      const cases: Array<[Parameters<StorageDriver['read']>[1], number, number]> = [
        [{ start: 0, end: 0 }, 0, 0],
        [{ start: 100, end: 199 }, 100, 199],
        [{ start: 9_990 }, 9_990, 9_999],
        [{ start: 9_000, end: 20_000 }, 9_000, 9_999],
        [{ suffix: 10 }, 9_990, 9_999],
        [{ suffix: 50_000 }, 0, 9_999],
      ];
      for (const [range, start, end] of cases) {
        const r = await driver.read(key, range);
        t.same(r.range, { start, end }, `range ${JSON.stringify(range)}`);
        t.same(await collect(r.body), whole.subarray(start, end + 1), `bytes of ${JSON.stringify(range)}`);
      }
      await t.rejects(driver.read(key, { start: size }), { code: 'range_not_satisfiable', details: { size } });
      await t.rejects(driver.read(key, { suffix: 0 }), { code: 'range_not_satisfiable' });
    });

    t.test('missing objects', async (t) => {
      await t.rejects(driver.head(`${base}/missing`), { code: 'not_found' });
      await t.rejects(driver.read(`${base}/missing`), { code: 'not_found' });
      await t.rejects(driver.read(`${base}/missing`, { start: 0, end: 1 }), { code: 'not_found' });
    });

    t.test('delete is idempotent', async (t) => {
      const key = `${base}/del/x`;
      await put(key, patternStream(10));
      await driver.delete(key);
      await t.rejects(driver.head(key), { code: 'not_found' });
      await driver.delete(key);
      await driver.delete(`${base}/del/never-existed`);
      t.pass('deleting absent keys succeeded');
      t.same(await h.leftovers(), [], 'nothing left of the deleted object');
    });

    t.test('a sweep of debris at any age never touches a stored object', async (t) => {
      if (!driver.sweepDebris) return t.pass('no sweep on this driver');
      const keys = [`${base}/sweep/small`, `${base}/sweep/large`];
      const sizes = [10, h.extraSizes?.at(-1) ?? 1024 * 1024 + 3];
      for (const [i, key] of keys.entries()) await put(key, patternStream(sizes[i]!, { seed: 40 + i }));
      await driver.sweepDebris(new Date(Date.now() + 86_400_000));
      for (const [i, key] of keys.entries()) {
        const read = await driver.read(key);
        t.same(await sha256OfStream(read.body), { sha256: patternSha256(sizes[i]!, 40 + i), size: sizes[i] }, `${key} intact`);
      }
      t.same(await h.leftovers(), []);
    });

    t.test('list pages in key order under a prefix', async (t) => {
      const p = `${base}/list/`;
      const keys = [`${p}a-c`, `${p}a/b`, `${p}b`, `${p}c/d/e`, `${p}c/d/f`];
      for (const k of [...keys].reverse()) await put(k, patternStream(3));
      await put(`${base}/listing-outside`, patternStream(3));
      const seen: string[] = [];
      let cursor: string | undefined;
      let pages = 0;
      do {
        const page = await driver.list({ prefix: p, limit: 2, ...(cursor ? { cursor } : {}) });
        t.ok(page.items.length <= 2);
        for (const item of page.items) t.equal(item.meta.size, 3);
        seen.push(...page.items.map((i) => i.key));
        cursor = page.cursor;
        pages++;
      } while (cursor && pages < 10);
      t.same(seen, [...keys].sort(), 'every key once, ascending, nothing outside the prefix');
      t.ok(pages >= 3, 'more than one page');
      const partial = await driver.list({ prefix: `${p}c/`, limit: 10 });
      t.same(partial.items.map((i) => i.key), [`${p}c/d/e`, `${p}c/d/f`]);
    });
  });
}
