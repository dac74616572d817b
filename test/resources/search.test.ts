import t from 'tap';
import { startGateway, TOKEN_ALL } from '../helpers/gateway.js';
import { startUpstream } from '../helpers/upstream.js';

const gw = await startGateway();
const up = await startUpstream();
t.teardown(async () => {
  await gw.close();
  await up.stop();
});

async function persist(body: Record<string, unknown>, ws = 'ws-1'): Promise<string> {
  const res = await gw.step(body, ws);
  if (res.status !== 200) throw new Error(JSON.stringify(res.json));
  return res.json.uri;
}
async function uploadText(name: string, text: string, query = ''): Promise<string> {
  const res = await fetch(`${gw.url}/v1/workspaces/ws-1/uploads/${name}${query}`, { method: 'PUT', headers: { authorization: `Bearer ${TOKEN_ALL}`, 'content-type': 'text/plain' }, body: text });
  return ((await res.json()) as { uri: string }).uri;
}

const invoice = await persist({
  request: { url: `${up.url}/bytes/10/scan.pdf?type=application/pdf` },
  slots: { a: { root: 'reports/acme' } },
  persist: { type: 'blob', slot: 'a', path: 'exports/2026', 'search-index': { text: 'invoice-id=INV-123 vendor=Acme', tags: ['finance', 'q1'], 'source-label': 'erp' } },
});
const memo = await uploadText('memo.txt', 'The quarterly memo mentions Zanzibar logistics.');
const hidden = await uploadText('private.txt', 'Zanzibar appears here too', `?search-index=${encodeURIComponent('{"include-raw-content?":false}')}`);
const eph = await persist({ request: { url: `${up.url}/bytes/5/export.csv?type=text/csv&ascii=1` }, persist: { type: 'blob', tier: 'ephemeral' } });
await persist({ request: { url: `${up.url}/bytes/5/other.pdf` }, persist: { type: 'blob', 'search-index': { text: 'INV-123' } } }, 'ws-2');

async function search(query: string): Promise<any[]> {
  const res = await gw.call('GET', `/v1/workspaces/ws-1/resources?${query}`);
  if (res.status !== 200) throw new Error(JSON.stringify(res.json));
  return res.json.items;
}
const uris = async (query: string) => (await search(query)).map((i) => i.uri).sort();

t.test('q matches indexed text, tags, source label, display name and path, case-insensitively', async (t) => {
  t.same(await uris('q=inv-123'), [invoice], 'indexed text; nothing of ws-2');
  t.same(await uris('q=FINANCE'), [invoice], 'tag');
  t.same(await uris('q=erp'), [invoice], 'source label');
  t.same(await uris('q=scan.pdf'), [invoice], 'display name');
  t.same(await uris('q=exports%2F2026'), [invoice], 'path');
  t.same(await uris('q=nothing-like-this'), []);
});

t.test('raw text of text-like retained blobs is searchable unless opted out; ephemeral never', async (t) => {
  t.same(await uris('q=zanzibar'), [memo], 'the opted-out upload is not found by its content');
  t.ok((await uris('q=private')).includes(hidden), 'still found by its name');
  t.same(await uris('q=abcde'), [], 'ephemeral text is metadata-only (its bytes are abcde)');
  t.ok((await uris('q=export.csv')).includes(eph), 'ephemeral found by metadata');
});

t.test('items carry the storage fields of the seeds', async (t) => {
  const [item] = await search('q=inv-123');
  t.match(item, {
    path: 'workspaces/ws-1/storage/reports/acme/exports/2026/scan.pdf',
    'storage-backend': 'local',
    'storage-root': 'reports/acme',
    'path-under-root': 'exports/2026/scan.pdf',
    'display-name': 'scan.pdf',
    tier: 'retained',
    size: 10,
    'content-type': 'application/pdf',
  });
  t.match(item['created-at'], /^\d{4}-\d\d-\d\dT/);
  const [plain] = await search('q=memo');
  t.equal(plain['storage-root'], null);
  t.match(plain['path-under-root'], /^uploads\/[0-9a-f-]{36}\/memo\.txt$/);
});

t.test('q combines with the storage filters; types=file', async (t) => {
  t.same(await uris('q=inv&storage-backend=local&storage-root=reports/acme&path-prefix=exports'), [invoice]);
  t.same(await uris('q=inv&storage-root=reports/other'), []);
  t.same(await uris('q=inv&types=file'), [invoice]);
  t.same(await uris('q=inv&types=result'), [], 'there are no result resources');
  const bad = await gw.call('GET', '/v1/workspaces/ws-1/resources?types=table');
  t.equal(bad.json.error.code, 'invalid_request');
});
