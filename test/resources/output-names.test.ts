import t from 'tap';
import { toSeedListItem } from '../../src/resources/seed-names.js';
import { startGateway } from '../helpers/gateway.js';
import { startUpstream } from '../helpers/upstream.js';

const gw = await startGateway();
const up = await startUpstream();
t.teardown(async () => {
  await gw.close();
  await up.stop();
});

const KEBAB = /^[a-z0-9]+(-[a-z0-9]+)*\??$/;

/** Every object key in a JSON value, with its path (header names and search tags are data, not field names). */
function fieldNames(v: unknown, at = ''): string[] {
  if (Array.isArray(v)) return v.flatMap((x, i) => fieldNames(x, `${at}[${i}]`));
  if (v === null || typeof v !== 'object') return [];
  return Object.entries(v).flatMap(([k, x]) => (k === 'headers' ? [`${at}.${k}`] : [`${at}.${k}`, ...fieldNames(x, `${at}.${k}`)]));
}

const slotted = await gw.step({
  request: { url: `${up.url}/bytes/7?type=text/plain&ascii=1` },
  slots: { archive: { root: 'reports/acme' } },
  persist: { type: 'blob', slot: 'archive', path: 'exports/2026', filename: 'summary.txt', 'search-index': { tags: ['q1'], 'source-label': 'SAP' } },
});

t.test('a slot write names its scope as the listing does: storage.path-under-root, relative-path kept as a deprecated alias', async (t) => {
  t.equal(slotted.status, 200);
  t.same(slotted.json.storage, { backend: 'local', slot: 'archive', root: 'reports/acme', 'path-under-root': 'exports/2026/summary.txt', 'relative-path': 'exports/2026/summary.txt' });
  const list = await gw.call('GET', '/v1/workspaces/ws-1/resources?storage-root=reports/acme');
  t.equal(list.status, 200);
  const [item] = list.json.items;
  t.equal(item['storage-backend'], item.storage.backend);
  t.equal(item['storage-root'], item.storage.root);
  t.equal(item['path-under-root'], item.storage['path-under-root']);
  const described = await gw.call('GET', `/v1/resources?uri=${encodeURIComponent(slotted.json.uri)}`);
  t.same(described.json.storage, slotted.json.storage, 'the descriptor reads the same names back from the store');
});

t.test("every field name in blobgate's own answers is kebab-case", async (t) => {
  const plain = await gw.step({ request: { url: `${up.url}/bytes/3` }, persist: { type: 'blob', tier: 'ephemeral' } });
  const list = await gw.call('GET', '/v1/workspaces/ws-1/resources');
  const described = await gw.call('GET', `/v1/resources?uri=${encodeURIComponent(slotted.json.uri)}`);
  const signed = await gw.call('POST', '/v1/resources/url', { uri: slotted.json.uri });
  const inline = await gw.step({ request: { url: `${up.url}/json` } });
  const failed = await gw.step({ request: { url: `${up.url}/status/500` } });
  for (const [name, body] of Object.entries({ slotted: slotted.json, plain: plain.json, list: list.json, described: described.json, signed: signed.json, inline: { ...inline.json, body: null }, failed: failed.json })) {
    const odd = fieldNames(body).filter((p) => !KEBAB.test(p.split('.').at(-1)!.replace(/\[\d+\]$/, '')));
    t.same(odd, [], `${name}: no snake_case or camelCase field`);
  }
});

t.test("the platform's names come from one mapping, for the routes that serve its shapes", async (t) => {
  const list = await gw.call('GET', '/v1/workspaces/ws-1/resources?storage-root=reports/acme');
  const [item] = list.json.items;
  t.same(toSeedListItem(item), {
    uri: slotted.json.uri,
    displayName: 'summary.txt',
    path: 'workspaces/ws-1/storage/reports/acme/exports/2026/summary.txt',
    storage_backend: 'local',
    storage_root: 'reports/acme',
    path_under_root: 'exports/2026/summary.txt',
  });
});
