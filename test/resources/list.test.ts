import t from 'tap';
import { startGateway } from '../helpers/gateway.js';
import { startUpstream } from '../helpers/upstream.js';

const gw = await startGateway();
const up = await startUpstream();
t.teardown(async () => {
  await gw.close();
  await up.stop();
});

const put = async (body: Record<string, unknown>, ws = 'ws-1') => {
  const res = await gw.step({ request: { url: `${up.url}/bytes/5` }, ...body }, ws);
  if (res.status !== 200) throw new Error(JSON.stringify(res.json));
  return res.json.uri as string;
};
const expected = {
  a: await put({ persist: { type: 'blob', path: 'exports/2026', filename: 'a.csv' } }),
  b: await put({ persist: { type: 'blob', path: 'exports/2025', filename: 'b.csv', tier: 'ephemeral' } }),
  c: await put({ slots: { s: { root: 'reports/acme' } }, persist: { type: 'blob', slot: 's', path: 'exports/2026', filename: 'c.pdf' } }),
  d: await put({ slots: { s: { root: 'reports/other' } }, persist: { type: 'blob', slot: 's', filename: 'd.pdf' } }),
};
await put({ persist: { type: 'blob', filename: 'other-ws.bin' } }, 'ws-2');

async function listAll(query: string, limit = 2): Promise<string[]> {
  const uris: string[] = [];
  let cursor: string | undefined;
  for (let i = 0; i < 20; i++) {
    const res = await gw.call('GET', `/v1/workspaces/ws-1/resources?limit=${limit}${query}${cursor ? `&cursor=${cursor}` : ''}`);
    if (res.status !== 200) throw new Error(JSON.stringify(res.json));
    uris.push(...res.json.items.map((i: { uri: string }) => i.uri));
    cursor = res.json.cursor;
    if (!cursor) break;
  }
  return uris.sort();
}

t.test('lists every resource of the workspace, paged by cursor, nothing of other workspaces', async (t) => {
  t.same(await listAll(''), Object.values(expected).sort());
  t.same(await listAll('', 1000), Object.values(expected).sort());
});

t.test('tier filter', async (t) => {
  t.same(await listAll('&tier=ephemeral'), [expected.b]);
  t.same(await listAll('&tier=retained'), [expected.a, expected.c, expected.d].sort());
});

t.test('storage-root narrows to a slot root; path-prefix is then relative to the root', async (t) => {
  t.same(await listAll('&storage-root=reports/acme'), [expected.c]);
  t.same(await listAll('&storage-root=reports/acme&path-prefix=exports/20'), [expected.c]);
  t.same(await listAll('&storage-root=reports/acme&path-prefix=nothing'), []);
  t.same(await listAll('&storage-root=reports'), [], 'a root is matched whole, not as a prefix');
});

t.test('path-prefix without a root is relative to the workspace', async (t) => {
  t.same(await listAll('&path-prefix=persist/flow/step/'), [expected.a, expected.b].sort());
  t.same(await listAll('&path-prefix=storage/reports/'), [expected.c, expected.d].sort());
});

t.test('storage-backend filter', async (t) => {
  t.same(await listAll('&storage-backend=local'), Object.values(expected).sort());
  t.same(await listAll('&storage-backend=s3'), []);
});

t.test('bad filters are invalid_request or path_invalid', async (t) => {
  const a = await gw.call('GET', '/v1/workspaces/ws-1/resources?path-prefix=../ws-2');
  t.equal(a.json.error.code, 'path_invalid');
  const b = await gw.call('GET', '/v1/workspaces/ws-1/resources?cursor=garbage');
  t.equal(b.json.error.code, 'invalid_request');
  const c = await gw.call('GET', '/v1/workspaces/ws-1/resources?limit=0');
  t.equal(c.json.error.code, 'invalid_request');
  const d = await gw.call('GET', '/v1/workspaces/ws-1/resources?colour=red');
  t.match(d.json.error.message, /Unknown field "colour"/);
});
