import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Test } from 'tap';
import { newWriteId, sidecarDir, sidecarKey, sweepSidecars, SIDECARS_PREFIX } from '../../src/persist/search-sidecar.js';
import type { StorageDriver } from '../../src/storage/driver.js';
import type { RecordStore } from '../../src/storage/records.js';
import { startGateway, TOKEN_ALL } from '../helpers/gateway.js';
import { until } from '../helpers/until.js';
import { startUpstream } from '../helpers/upstream.js';

/**
 * Search-index sidecars (src/persist/search-sidecar.ts) end to end through
 * the gateway on one store — local, S3 or GCS, each against its real server:
 * room (16 KiB of text, 64 tags), raw content on the ephemeral tier when
 * asked for, limits, and the consistency rules: failed writes, overwrites,
 * planted sidecars, deletes and the sweep never leave a blob paired with
 * another write's index, and leave no sidecar behind.
 */
export interface SidecarStore {
  section: Record<string, unknown>;
  /** Makes the store unreachable, and reachable again (S3, GCS), keeping what it holds. */
  outage?: { start(): Promise<void>; end(): Promise<void> };
  stop(): Promise<void>;
}

export function sidecarScenarios(t: Test, name: string, store: () => Promise<SidecarStore>): void {
  t.test(`${name}: search-index sidecars`, async (t) => {
    const s = await store();
    const gw = await startGateway({ stores: { bg: s.section }, tiers: { retained: { store: 'bg' }, ephemeral: { store: 'bg' } } });
    const up = await startUpstream();
    const doc = await startDocServer();
    t.teardown(async () => {
      await gw.close();
      await up.stop();
      await doc.stop();
      await s.stop();
    });
    const driver: StorageDriver = gw.stores.get('bg');
    const records = driver.records as RecordStore;
    const sidecars = async (): Promise<string[]> => (await records.list(SIDECARS_PREFIX, { limit: 1000 })).keys;
    const keyOf = (uri: string): string => `workspaces/ws-1/${uri.split('/').slice(8).map(decodeURIComponent).join('/')}`;
    const search = async (q: string): Promise<string[]> => {
      const res = await gw.call('GET', `/v1/workspaces/ws-1/resources?q=${encodeURIComponent(q)}`);
      if (res.status !== 200) throw new Error(JSON.stringify(res.json));
      return res.json.items.map((i: { uri: string }) => i.uri);
    };
    const describe = async (uri: string) => (await gw.call('GET', `/v1/resources?uri=${encodeURIComponent(uri)}`)).json;

    const bigText = `invoice-id=INV-77 ${'lorem ipsum '.repeat(1400)}`.slice(0, 16_384 - 'TAIL-MARKER'.length) + 'TAIL-MARKER';
    const tags = Array.from({ length: 64 }, (_, i) => `tag-${String(i).padStart(2, '0')}-${'x'.repeat(100)}`);

    t.test('16 KiB of text and 64 tags round-trip, are searchable, and live in one sidecar', async (t) => {
      t.equal(Buffer.byteLength(bigText), 16_384);
      const res = await gw.step({
        request: { url: `${up.url}/bytes/100/scan.pdf?type=application/pdf` },
        persist: { type: 'blob', 'search-index': { text: bigText, tags, 'source-label': 'SAP import' } },
      });
      t.equal(res.status, 200, JSON.stringify(res.json).slice(0, 300));
      t.equal(res.json['search-index'].text, bigText, 'the result echoes the index');
      const desc = await describe(res.json.uri);
      t.equal(desc['search-index'].text, bigText, 'the descriptor reads the index back from the sidecar');
      t.same(desc['search-index'].tags, tags);
      t.equal(desc['search-index']['source-label'], 'SAP import');
      t.same(await search('TAIL-MARKER'), [res.json.uri], 'found by the end of the text');
      t.same(await search('tag-63-'), [res.json.uri], 'found by the 64th tag');
      const key = keyOf(res.json.uri);
      const head = await driver.head(key);
      t.match(head.meta.searchIndexId, /^[0-9a-z]{9}-[0-9a-f]{24}$/, 'the blob names its write id');
      t.equal(head.meta.searchIndex, undefined, 'the index is not in object meta');
      t.same(await sidecars(), [sidecarKey(key, head.meta.searchIndexId!)], 'exactly one sidecar, the one the blob names');
      t.equal((await gw.call('DELETE', `/v1/resources?uri=${encodeURIComponent(res.json.uri)}`)).status, 204);
      t.same(await sidecars(), [], 'deleting the blob removed its sidecar');
    });

    t.test('over the limits: 400 invalid_request naming the field and the limit, nothing stored, upstream not called', async (t) => {
      const calls = up.requests.length;
      const cases: Array<[Record<string, unknown>, string, RegExp]> = [
        [{ text: `${bigText}!` }, 'persist.search-index.text', /16385 bytes \(UTF-8\); the limit is 16384 bytes/],
        [{ tags: [...tags, 'one-more'] }, 'persist.search-index.tags', /65 tags; the limit is 64/],
        [{ tags: ['é'.repeat(65)] }, 'persist.search-index.tags', /130 bytes \(UTF-8\); each tag must be 1 to 128 bytes/],
        [{ 'source-label': 'l'.repeat(257) }, 'persist.search-index.source-label', /the limit is 256 bytes/],
      ];
      for (const [index, field, message] of cases) {
        const res = await gw.step({ request: { url: `${up.url}/bytes/10/x.bin` }, persist: { type: 'blob', 'search-index': index } });
        t.equal(res.status, 400);
        t.equal(res.json.error.code, 'invalid_request');
        t.equal(res.json.error.details.field, field);
        t.match(res.json.error.message, message);
      }
      t.equal(up.requests.length, calls, 'refused before the upstream was called');
      const form = new FormData();
      form.append('search-index', JSON.stringify({ text: `${bigText}!` }));
      form.append('file', new Blob(['hello']), 'a.txt');
      const upload = await fetch(`${gw.url}/v1/workspaces/ws-1/uploads`, { method: 'POST', headers: { authorization: `Bearer ${TOKEN_ALL}` }, body: form });
      const refused = (await upload.json()) as { error: { code: string; message: string } };
      t.equal(upload.status, 400);
      t.match(refused.error.message, /search-index\.text is 16385 bytes/);
      t.same(await sidecars(), []);
    });

    t.test('an upload takes a 16 KiB search-index field', async (t) => {
      const form = new FormData();
      form.append('search-index', JSON.stringify({ text: bigText, tags }));
      form.append('file', new Blob(['hello']), 'notes.bin');
      const upload = await fetch(`${gw.url}/v1/workspaces/ws-1/uploads`, { method: 'POST', headers: { authorization: `Bearer ${TOKEN_ALL}` }, body: form });
      t.equal(upload.status, 201);
      const { items } = (await upload.json()) as { items: Array<{ uri: string }> };
      t.same(await search('TAIL-MARKER'), [items[0]!.uri]);
      await gw.call('DELETE', `/v1/resources?uri=${encodeURIComponent(items[0]!.uri)}`);
      t.same(await sidecars(), []);
    });

    t.test('ephemeral with include-raw-content? true keeps 16 KiB of raw text; without it, none', async (t) => {
      const asked = await gw.step({ request: { url: `${doc.url}/doc/asked.txt` }, persist: { type: 'blob', tier: 'ephemeral', 'search-index': { 'include-raw-content?': true } } });
      t.equal(asked.status, 200, JSON.stringify(asked.json).slice(0, 300));
      const plain = await gw.step({ request: { url: `${doc.url}/doc/plain.txt` }, persist: { type: 'blob', tier: 'ephemeral' } });
      t.same(await search('MID-MARK-9000'), [asked.json.uri], 'raw text 9,000 bytes in; the ephemeral blob that did not ask has none');
      t.same(await search('FAR-MARK-18000'), [], 'raw text ends at 16 KiB');
      t.same(await search('NEAR-START'), [asked.json.uri]);
      const head = await driver.head(keyOf(asked.json.uri));
      t.ok(head.meta.searchIndexId, 'kept in a sidecar');
      t.same(await sidecars(), [sidecarKey(keyOf(asked.json.uri), head.meta.searchIndexId!)]);
      const expired = Date.now() + 25 * 3600_000;
      t.equal(await sweepSidecars(driver, new Date(Date.now() + 60_000), expired), 1, "once the blob has expired, the sweep ends its sidecar");
      t.same(await sidecars(), []);
      for (const uri of [asked.json.uri, plain.json.uri]) await gw.call('DELETE', `/v1/resources?uri=${encodeURIComponent(uri)}`);
      t.same(await sidecars(), []);
    });

    t.test('a failed write leaves no sidecar and no object', async (t) => {
      const index = { text: bigText };
      const dropped = await gw.step({ request: { url: `${up.url}/bytes/400000/x.bin?drop-after=300000` }, persist: { type: 'blob', 'search-index': index } });
      t.equal(dropped.status, 502, 'upstream fault mid-body');
      const capped = await gw.step({ request: { url: `${up.url}/bytes/400000/x.bin?chunked=1`, 'client-opts': { 'max-response-bytes': 1000 } }, persist: { type: 'blob', 'search-index': index } });
      t.equal(capped.status, 413, 'the store write refused past the cap');
      t.same(await sidecars(), []);
      t.same((await driver.list({ prefix: 'workspaces/ws-1/', limit: 100 })).items.map((o) => o.key), []);
    });

    if (s.outage) {
      const outage = s.outage;
      t.test('a write failed by a store outage leaves no sidecar once the store is back (the janitor retries the discard)', async (t) => {
        const step = gw.step({ request: { url: `${doc.url}/gated/x.bin` }, persist: { type: 'blob', 'search-index': { text: bigText } } });
        await until('the sidecar is put and the body is under way', async () => (await sidecars()).length === 1 && doc.waiting());
        await outage.start();
        doc.release();
        const res = await step;
        t.equal(res.status, 502, JSON.stringify(res.json).slice(0, 200));
        t.equal(res.json.error.code, 'storage_error');
        await outage.end();
        await until('the janitor removed the sidecar', async () => (await sidecars()).length === 0, 60_000);
        t.same((await driver.list({ prefix: 'workspaces/ws-1/', limit: 100 })).items.map((o) => o.key), [], 'and no blob');
      });
    }

    t.test('an overwrite leaves exactly one sidecar, and search sees only the new index', async (t) => {
      const at = (text: string) =>
        gw.step({ request: { url: `${up.url}/bytes/10/same.bin` }, slots: { a: { root: 'r/acme' } }, persist: { type: 'blob', slot: 'a', path: 'fixed', 'search-index': { text: `${text} ${bigText.slice(0, 10_000)}` } } });
      const first = await at('FIRST-VERSION');
      const second = await at('SECOND-VERSION');
      t.equal(first.json.uri, second.json.uri, 'one key');
      const key = keyOf(second.json.uri);
      const head = await driver.head(key);
      t.same(await sidecars(), [sidecarKey(key, head.meta.searchIndexId!)], "only the new write's sidecar is left");
      t.same(await search('FIRST-VERSION'), []);
      t.same(await search('SECOND-VERSION'), [second.json.uri]);
      t.match((await describe(second.json.uri))['search-index'].text, /^SECOND-VERSION/);
    });

    t.test('a planted sidecar the blob does not name is never read, and the sweep removes it', async (t) => {
      const uri = (await search('SECOND-VERSION'))[0]!;
      const key = keyOf(uri);
      const named = (await driver.head(key)).meta.searchIndexId!;
      const stale = newWriteId(Date.now() - 7 * 3600_000);
      const body = (writeId: string, text: string) => Buffer.from(JSON.stringify({ version: 1, key, 'write-id': writeId, 'created-at': new Date().toISOString(), index: { text } }));
      await records.put(sidecarKey(key, stale), body(stale, 'PLANTED-OTHER-ID'));
      await records.put(`${sidecarDir(key)}zzzzzzzzz-${'0'.repeat(24)}.json`, body(stale, 'PLANTED-LAST'));
      const orphan = newWriteId(Date.now() - 7 * 3600_000);
      await records.put(sidecarKey('workspaces/ws-1/gone/x.bin', orphan), Buffer.from(JSON.stringify({ version: 1, key: 'workspaces/ws-1/gone/x.bin', 'write-id': orphan, 'created-at': new Date().toISOString(), index: { text: 'PLANTED-ORPHAN' } })));
      t.same(await search('PLANTED'), [], 'no planted sidecar is read');
      t.same(await search('SECOND-VERSION'), [uri], 'the named one still is');
      // A sidecar whose body names another write id, at the named one's key, is not trusted either.
      const real = await records.get(sidecarKey(key, named));
      await records.put(sidecarKey(key, named), body(stale, 'PLANTED-SWAPPED'));
      t.same(await search('PLANTED-SWAPPED'), []);
      t.equal((await describe(uri))['search-index'], undefined, 'the descriptor shows no index rather than another write\'s');
      await records.put(sidecarKey(key, named), real!);

      t.equal(await sweepSidecars(driver, new Date(Date.now() - 6 * 3600_000)), 3, 'the three planted ones, past the grace');
      t.same(await sidecars(), [sidecarKey(key, named)], 'the trusted one stays');
      t.equal(await sweepSidecars(driver, new Date(Date.now() + 60_000)), 0, 'a sweep with no grace keeps it too');
      // A live sidecar is rewritten before the records' lifecycle backstop could reach it.
      const aged = { ...JSON.parse(real!.toString('utf8')), 'created-at': new Date(Date.now() - 40 * 86_400_000).toISOString() };
      await records.put(sidecarKey(key, named), Buffer.from(JSON.stringify(aged)));
      t.equal(await sweepSidecars(driver, new Date(Date.now() + 60_000)), 0);
      const refreshed = JSON.parse((await records.get(sidecarKey(key, named)))!.toString('utf8'));
      t.ok(Date.now() - Date.parse(refreshed['refreshed-at']) < 3600_000, 'refreshed by the sweep');
      t.same(await search('SECOND-VERSION'), [uri], 'and still trusted');
      await gw.call('DELETE', `/v1/resources?uri=${encodeURIComponent(uri)}`);
      t.same(await sidecars(), []);
    });

    t.test('a persist without a search index (or with a small one) costs no record call and no extra HEAD', async (t) => {
      const counts = countCalls(driver, records);
      const none = await gw.step({ request: { url: `${up.url}/bytes/10/a.bin` }, persist: { type: 'blob' } });
      const text = await gw.step({ request: { url: `${doc.url}/doc/a.txt` }, persist: { type: 'blob' } });
      const small = await gw.step({ request: { url: `${up.url}/bytes/10/b.bin` }, persist: { type: 'blob', 'search-index': { text: 'INV-SMALL', tags: ['t'] } } });
      for (const r of [none, text, small]) t.equal(r.status, 200);
      t.same(counts.take(), { records: 0, head: 0 });
      t.same(await search('INV-SMALL'), [small.json.uri], 'a small index stays in object meta and is found');
      t.same(await search('NEAR-START'), [text.json.uri], 'the first 512 bytes of a retained text blob are found');
      t.equal(counts.take().records, 0, 'a search over meta-only indexes reads no sidecar');
      const big = await gw.step({ request: { url: `${up.url}/bytes/10/c.bin` }, persist: { type: 'blob', 'search-index': { text: bigText } } });
      t.equal(big.status, 200);
      t.same(counts.take(), { records: 1, head: 1 }, 'a sidecar costs one record put and one HEAD');
      counts.restore();
    });
  });
}

/** Counts calls of the store's record methods and of driver.head, on the instances the gateway uses. */
function countCalls(driver: StorageDriver, records: RecordStore) {
  const n = { records: 0, head: 0 };
  const restore: Array<() => void> = [];
  const wrap = <O extends object>(o: O, name: keyof O & string, counter: 'records' | 'head') => {
    const own = Object.prototype.hasOwnProperty.call(o, name);
    const original = o[name] as unknown as (...a: unknown[]) => unknown;
    (o as Record<string, unknown>)[name] = (...a: unknown[]) => {
      n[counter]++;
      return original.apply(o, a);
    };
    restore.push(() => (own ? ((o as Record<string, unknown>)[name] = original) : delete (o as Record<string, unknown>)[name]));
  };
  for (const m of ['create', 'put', 'get', 'delete', 'list'] as const) wrap(records, m, 'records');
  wrap(driver, 'head', 'head');
  return {
    take: () => {
      const out = { ...n };
      n.records = 0;
      n.head = 0;
      return out;
    },
    restore: () => restore.forEach((r) => r()),
  };
}

/**
 * A text upstream: /doc/… is 20,000 bytes of text with markers at offsets 0,
 * 9,000 and 18,000; /gated/… sends 64 KiB of a 128 KiB binary body and the
 * rest once released.
 */
async function startDocServer(): Promise<{ url: string; waiting(): boolean; release(): void; stop(): Promise<void> }> {
  const text = Buffer.alloc(20_000, '.');
  text.write('NEAR-START', 0);
  text.write('MID-MARK-9000', 9000);
  text.write('FAR-MARK-18000', 18_000);
  let waiting = false;
  let release = (): void => undefined;
  const server = createServer((req, res) => {
    if (req.url?.startsWith('/gated/')) {
      res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': String(128 * 1024) });
      res.write(Buffer.alloc(64 * 1024, 1));
      waiting = true;
      release = () => {
        waiting = false;
        res.end(Buffer.alloc(64 * 1024, 2));
      };
      return;
    }
    res.writeHead(200, { 'content-type': 'text/plain; charset=utf-8', 'content-length': String(text.length) });
    res.end(text);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    waiting: () => waiting,
    release: () => release(),
    stop: () => {
      server.closeAllConnections();
      return new Promise<void>((r) => server.close(() => r()));
    },
  };
}
