import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import t from 'tap';
import { persistBody } from '../../src/persist/persist-body.js';
import { LocalDriver } from '../../src/storage/local/local-driver.js';
import { startGateway, TOKEN_ALL } from '../helpers/gateway.js';
import { startUpstream } from '../helpers/upstream.js';

// Small caps so "above the retained cap" is a few bytes: retained 1,000, ephemeral 5,000.
const tiers = { retained: { 'cap-bytes': 1000 }, ephemeral: { 'cap-bytes': 5000 } };
const up = await startUpstream();
const gw = await startGateway({
  stores: { retained: { driver: 'local' }, ephemeral: { driver: 'local' }, archive: { driver: 'local' } },
  tiers,
});
t.teardown(async () => {
  await gw.close();
  await up.stop();
});

function put(query: string, body: Buffer): Promise<Response> {
  return fetch(`${gw.url}/v1/workspaces/ws-1/uploads/u.bin?${query}`, { method: 'PUT', headers: { authorization: `Bearer ${TOKEN_ALL}` }, body });
}

t.test('an ephemeral persist cannot land in the retained store through a slot connection', async (t) => {
  const before = up.requests.length;
  const res = await gw.step({
    request: { url: `${up.url}/bytes/2000/big.bin` },
    slots: { archive: { root: 'r', connection: 'retained' } },
    persist: { type: 'blob', slot: 'archive', tier: 'ephemeral' },
  });
  t.equal(res.status, 400, JSON.stringify(res.json));
  t.equal(res.json.error.code, 'invalid_request');
  t.match(res.json.error.message, /store "retained", which does not back the ephemeral tier/);
  t.match(res.json.error.details, { store: 'retained', tier: 'ephemeral', slot: 'archive' });
  t.equal(up.requests.length, before, 'refused before the upstream request');
  t.same((await gw.residue()).objects, [], 'nothing stored above the retained cap');
});

t.test('a retained write cannot land in the ephemeral-only store (its expiry would delete it)', async (t) => {
  const step = await gw.step({ request: { url: `${up.url}/bytes/10/a.bin` }, slots: { archive: { root: 'r', connection: 'ephemeral' } }, persist: { type: 'blob', slot: 'archive' } });
  t.equal(step.status, 400);
  t.equal(step.json.error.code, 'invalid_request');
  t.match(step.json.error.message, /backs only the ephemeral tier/);
  const upload = await put('slot=archive&root=r&connection=ephemeral', Buffer.alloc(10));
  t.equal(upload.status, 400, 'an upload (retained) with connection=ephemeral');
  t.match(await upload.json(), { error: { code: 'invalid_request', details: { field: 'connection', store: 'ephemeral', tier: 'retained' } } });
  t.same((await gw.residue()).objects, [], 'nothing stored without an expiry in the ephemeral store');
});

t.test('a store no tier names takes retained writes under the retained cap, and no ephemeral ones', async (t) => {
  const ok = await gw.step({ request: { url: `${up.url}/bytes/1000/a.bin` }, slots: { s: { root: 'r', connection: 'archive' } }, persist: { type: 'blob', slot: 's' } });
  t.equal(ok.status, 200, JSON.stringify(ok.json));
  t.match(ok.json['blob-ref'], { store: 'archive', tier: 'retained', size: 1000 });
  t.notOk(ok.json['blob-ref']['expires-at'], 'retained: no expiry');
  const over = await gw.step({ request: { url: `${up.url}/bytes/1001/b.bin` }, slots: { s: { root: 'r', connection: 'archive' } }, persist: { type: 'blob', slot: 's' } });
  t.equal(over.json.error?.code, 'cap_exceeded', 'the retained cap applies on the slot store');
  const upload = await put('slot=s&root=up&connection=archive', Buffer.alloc(1001));
  t.equal(upload.status, 413, 'an upload to the slot store is capped by the retained tier too');
  const eph = await gw.step({ request: { url: `${up.url}/bytes/10/c.bin` }, slots: { s: { root: 'r', connection: 'archive' } }, persist: { type: 'blob', slot: 's', tier: 'ephemeral' } });
  t.equal(eph.json.error?.code, 'invalid_request', 'ephemeral bytes only go where they expire');
});

t.test('on a store both tiers share, the tier decides cap and expiry', async (t) => {
  const shared = await startGateway({ stores: { shared: { driver: 'local' } }, tiers: { retained: { ...tiers.retained, store: 'shared' }, ephemeral: { ...tiers.ephemeral, store: 'shared', 'ttl-seconds': 3600 } } });
  t.teardown(() => shared.close());
  const eph = await shared.step({ request: { url: `${up.url}/bytes/3000/e.bin` }, slots: { s: { root: 'r', connection: 'shared' } }, persist: { type: 'blob', slot: 's', tier: 'ephemeral' } });
  t.equal(eph.status, 200, JSON.stringify(eph.json));
  const expires = Date.parse(eph.json['blob-ref']['expires-at']) - Date.parse(eph.json['blob-ref']['created-at']);
  t.equal(expires, 3600 * 1000, 'an ephemeral write carries its expiry');
  const ret = await shared.step({ request: { url: `${up.url}/bytes/3000/r.bin` }, persist: { type: 'blob' } });
  t.equal(ret.json.error?.code, 'cap_exceeded', 'the retained cap, on the same store');
});

t.test('persistBody refuses an ephemeral write without an expiry and a retained one with', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'bg-tier-'));
  const driver = await LocalDriver.open({ root: dir });
  t.teardown(async () => {
    await driver.close();
    await rm(dir, { recursive: true, force: true });
  });
  const signal = new AbortController().signal;
  const base = { driver, key: 'workspaces/ws-1/x', cap: 10, contentType: 'text/plain', signal };
  for (const [tier, ttl] of [['ephemeral', undefined], ['retained', 60]] as const) {
    const body = Readable.from([Buffer.from('abc')]);
    await t.rejects(persistBody({ ...base, body, tier, ...(ttl ? { ttlSeconds: ttl } : {}) }), { code: 'internal' }, `${tier} ${ttl ? 'with' : 'without'} expiry`);
    t.ok(body.destroyed, 'the body is released');
  }
  await t.rejects(driver.head('workspaces/ws-1/x'), { code: 'not_found' }, 'nothing stored');
});
