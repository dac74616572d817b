import t from 'tap';
import { startGateway } from '../helpers/gateway.js';
import { startUpstream } from '../helpers/upstream.js';

const gw = await startGateway();
const up = await startUpstream();
t.teardown(async () => {
  await gw.close();
  await up.stop();
});

t.test('a slot persist lands at workspaces/<ws>/storage/<root>/<path>/<filename>, no hidden segments', async (t) => {
  const res = await gw.step({
    request: { url: `${up.url}/bytes/9` },
    params: { input: { 'tenant-id': 'cust-77', 'run-date': '2026-03-24', 'report-id': 'rep-42' } },
    slots: { archive: { root: 'reports/acme' } },
    persist: { type: 'blob', slot: ':archive', path: '{{input.tenant-id}}/{{input.run-date}}', filename: 'summary-{{input.report-id}}.pdf', tier: 'ephemeral' },
  });
  t.equal(res.status, 200, JSON.stringify(res.json));
  t.equal(res.json['blob-ref'].path, 'workspaces/ws-1/storage/reports/acme/cust-77/2026-03-24/summary-rep-42.pdf');
  t.equal(res.json.uri, 'res://v1/ws/ws-1/file/blob/ephemeral/storage/reports/acme/cust-77/2026-03-24/summary-rep-42.pdf');
  t.same(res.json.storage, { backend: 'local', slot: 'archive', root: 'reports/acme', 'path-under-root': 'cust-77/2026-03-24/summary-rep-42.pdf', 'relative-path': 'cust-77/2026-03-24/summary-rep-42.pdf' });
  t.equal(res.json['blob-ref'].tier, 'ephemeral');
  const desc = await gw.call('GET', `/v1/resources?uri=${encodeURIComponent(res.json.uri)}`);
  t.same(desc.json.storage, res.json.storage, 'storage fields survive in the store');
});

t.test('an unset root defaults to installations/<profile-id>/<prefix>, prefix interpolated', async (t) => {
  const res = await gw.step({
    request: { url: `${up.url}/bytes/9/a.bin` },
    params: { input: { customer: 'customer-a' } },
    slots: { archive: { 'profile-id': 'prof-1', prefix: 'reports/{{input.customer}}' } },
    persist: { type: 'blob', slot: 'archive' },
  });
  t.equal(res.status, 200);
  t.equal(res.json['blob-ref'].path, 'workspaces/ws-1/storage/installations/prof-1/reports/customer-a/a.bin');
  t.equal(res.json.storage.root, 'installations/prof-1/reports/customer-a');
});

t.test('a slot persist overwrites the same key (shared roots share the overwrite risk)', async (t) => {
  const body = { request: { url: `${up.url}/bytes/9/same.bin` }, slots: { archive: { root: 'shared' } }, persist: { type: 'blob', slot: 'archive' } };
  const a = await gw.step(body);
  const b = await gw.step({ ...body, request: { url: `${up.url}/bytes/20/same.bin` } });
  t.equal(a.json.uri, b.json.uri);
  const desc = await gw.call('GET', `/v1/resources?uri=${encodeURIComponent(a.json.uri)}`);
  t.equal(desc.json['blob-ref'].size, 20);
});

t.test('slot errors are clear', async (t) => {
  const missing = await gw.step({ request: { url: `${up.url}/bytes/9` }, persist: { type: 'blob', slot: 'archive' } });
  t.equal(missing.status, 400);
  t.equal(missing.json.error.code, 'invalid_request');
  t.match(missing.json.error.message, /slots\.archive/);
  const noRoot = await gw.step({ request: { url: `${up.url}/bytes/9` }, slots: { archive: { prefix: 'x' } }, persist: { type: 'blob', slot: 'archive' } });
  t.match(noRoot.json.error.message, /root.*profile-id/);
  const badRoot = await gw.step({ request: { url: `${up.url}/bytes/9` }, slots: { archive: { root: 'a/../../ws-2' } }, persist: { type: 'blob', slot: 'archive' } });
  t.equal(badRoot.json.error.code, 'path_invalid');
  const badStore = await gw.step({ request: { url: `${up.url}/bytes/9` }, slots: { archive: { root: 'r', connection: 'nope' } }, persist: { type: 'blob', slot: 'archive' } });
  t.equal(badStore.json.error.code, 'invalid_request');
  t.match(badStore.json.error.message, /store "nope"/);
});

t.test('a slot connection chooses the store, among those of the persist\'s tier', async (t) => {
  const res = await gw.step({ request: { url: `${up.url}/bytes/9/c.bin` }, slots: { archive: { root: 'r', connection: 'ephemeral' } }, persist: { type: 'blob', slot: 'archive', tier: 'ephemeral' } });
  t.equal(res.status, 200);
  t.equal(res.json['blob-ref'].store, 'ephemeral');
  t.equal(res.json['blob-ref'].tier, 'ephemeral');
  // A retained blob in the ephemeral tier's store would expire with it (test/security/tier-store.test.ts).
  const retained = await gw.step({ request: { url: `${up.url}/bytes/9/c.bin` }, slots: { archive: { root: 'r', connection: 'ephemeral' } }, persist: { type: 'blob', slot: 'archive' } });
  t.equal(retained.json.error.code, 'invalid_request');
});
