import t from 'tap';
import { patternSha256 } from '../helpers/bytes.js';
import { startGateway } from '../helpers/gateway.js';
import { startUpstream } from '../helpers/upstream.js';

const RETAINED_CAP = 52_428_800;
const gw = await startGateway();
const up = await startUpstream();
t.teardown(async () => {
  await gw.close();
  await up.stop();
});

for (const mode of ['content-length', 'chunked'] as const) {
  const q = mode === 'chunked' ? '?chunked=1' : '';
  t.test(`retained cap with a ${mode} upstream: exactly the cap is stored`, async (t) => {
    const res = await gw.step({ request: { url: `${up.url}/bytes/${RETAINED_CAP}${q}` }, persist: { type: 'blob' } });
    t.equal(res.status, 200);
    t.equal(res.json['blob-ref'].size, RETAINED_CAP);
    t.equal(res.json['blob-ref'].sha256, patternSha256(RETAINED_CAP));
    const del = await gw.call('DELETE', `/v1/resources?uri=${encodeURIComponent(res.json.uri)}`);
    t.equal(del.status, 204);
  });

  t.test(`retained cap with a ${mode} upstream: one byte more is cap_exceeded and leaves nothing`, async (t) => {
    const before = up.requests.length;
    const res = await gw.step({ request: { url: `${up.url}/bytes/${RETAINED_CAP + 1}${q}` }, persist: { type: 'blob' } });
    t.equal(res.status, 413);
    t.equal(res.json.error.code, 'cap_exceeded');
    t.equal(res.json.error.details['max-bytes'], RETAINED_CAP);
    if (mode === 'content-length') t.equal(res.json.error.details['announced-bytes'], RETAINED_CAP + 1, 'refused on the header, before any byte');
    t.match(res.json.error.message, /ephemeral/);
    t.equal(up.requests.length, before + 1);
    t.same(await gw.residue(), { tmp: [], objects: [] }, 'store is empty: no object, no temp file');
    const list = await gw.call('GET', '/v1/workspaces/ws-1/resources');
    t.same(list.json.items, []);
  });
}

t.test('max-response-bytes lowers the cap (exact ok, +1 refused)', async (t) => {
  const ok = await gw.step({ request: { url: `${up.url}/bytes/1000?chunked=1`, 'client-opts': { 'max-response-bytes': 1000 } }, persist: { type: 'blob', tier: 'ephemeral' } });
  t.equal(ok.status, 200);
  t.equal(ok.json['blob-ref'].size, 1000);
  await gw.call('DELETE', `/v1/resources?uri=${encodeURIComponent(ok.json.uri)}`);
  const over = await gw.step({ request: { url: `${up.url}/bytes/1001?chunked=1`, 'client-opts': { 'max-response-bytes': 1000 } }, persist: { type: 'blob', tier: 'ephemeral' } });
  t.equal(over.status, 413);
  t.equal(over.json.error.code, 'cap_exceeded');
  t.equal(over.json.error.details['max-bytes'], 1000);
  t.same(await gw.residue(), { tmp: [], objects: [] });
});

t.test('max-response-bytes above the tier cap does not raise it', async (t) => {
  const res = await gw.step({
    request: { url: `${up.url}/bytes/${RETAINED_CAP + 1}?chunked=1`, 'client-opts': { 'max-response-bytes': RETAINED_CAP * 2 } },
    persist: { type: 'blob' },
  });
  t.equal(res.status, 413);
  t.equal(res.json.error.details['max-bytes'], RETAINED_CAP);
  t.same(await gw.residue(), { tmp: [], objects: [] });
});
