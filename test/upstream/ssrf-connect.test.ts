import type { LookupAddress } from 'node:dns';
import t from 'tap';
import { startGateway } from '../helpers/gateway.js';
import { startUpstream } from '../helpers/upstream.js';

// Only loopback traffic: the allowed upstream on 127.0.0.1, "internal" ones on 127.0.0.2 and [::1].
const allowed = await startUpstream('127.0.0.1');
const internal = await startUpstream('127.0.0.2');
const internal6 = await startUpstream('::1');
const names: Record<string, LookupAddress[]> = {
  'internal.test': [{ address: '127.0.0.2', family: 4 }],
  'mixed.test': [{ address: '127.0.0.1', family: 4 }, { address: '127.0.0.2', family: 4 }],
  'rebind.test': [{ address: '127.0.0.1', family: 4 }],
  'allowed-name.test': [{ address: '127.0.0.2', family: 4 }],
  localhost: [{ address: '127.0.0.1', family: 4 }],
};
const gw = await startGateway(
  { upstream: { allow: ['127.0.0.1', 'allowed-name.test'] } },
  { resolver: (host, cb) => (names[host] ? cb(null, names[host]!) : cb(Object.assign(new Error(`test resolver: no ${host}`), { code: 'ENOTFOUND' }), [])) },
);
t.teardown(async () => {
  await gw.close();
  await Promise.all([allowed.stop(), internal.stop(), internal6.stop()]);
});

const port2 = new URL(internal.url).port;
const port6 = new URL(internal6.url).port;

t.test('the allowed upstream works', async (t) => {
  const res = await gw.step({ request: { url: `${allowed.url}/json` } });
  t.equal(res.status, 200);
});

const refused: Array<[string, string, string]> = [
  ['another loopback address', `http://127.0.0.2:${port2}/json`, '127.0.0.2'],
  ['IPv6 loopback', `http://[::1]:${port6}/json`, '[::1]'],
  ['the unspecified address', `http://0.0.0.0:${port2}/json`, '0.0.0.0'],
  ['a decimal IPv4 form of 127.0.0.2', `http://2130706434:${port2}/json`, '127.0.0.2'],
  ['an IPv4-mapped IPv6 form', `http://[::ffff:127.0.0.2]:${port2}/json`, '[::ffff:7f00:2]'],
  ['localhost (a name; IP entries open literal addresses only)', `http://localhost:${new URL(allowed.url).port}/json`, 'localhost'],
  ['a name that resolves to 127.0.0.2', `http://internal.test:${port2}/json`, 'internal.test'],
  ['a name with one internal address among several', `http://mixed.test:${port2}/json`, 'mixed.test'],
  ['a name resolving to the allowed IP (DNS pointing at an internal service)', `http://rebind.test:${new URL(allowed.url).port}/json`, 'rebind.test'],
  ['cloud metadata', 'http://169.254.169.254/latest/meta-data/', '169.254.169.254'],
];

for (const [name, url, host] of refused) {
  t.test(`refused: ${name}`, async (t) => {
    const before = [internal.connections(), internal6.connections()];
    const res = await gw.step({ request: { url, timeout: 2 } });
    t.equal(res.status, 403, JSON.stringify(res.json));
    t.equal(res.json.error.code, 'destination_blocked');
    t.match(res.json.error.message, host, 'names the host');
    if (!['127.0.0.2', '0.0.0.0', '[::ffff:7f00:2]', '169.254.169.254'].includes(host)) t.notMatch(res.json.error.message, /127\.0\.0\.2/, 'never the resolved address');
    t.same([internal.connections(), internal6.connections()], before, 'the refused upstream saw no connection');
  });
  t.test(`refused after a redirect from the allowed upstream: ${name}`, async (t) => {
    const before = [internal.connections(), internal6.connections()];
    const res = await gw.step({ request: { url: `${allowed.url}/redirect/302?to=${encodeURIComponent(url)}`, timeout: 2 }, persist: { type: 'blob' } });
    t.equal(res.status, 403);
    t.equal(res.json.error.code, 'destination_blocked');
    t.same([internal.connections(), internal6.connections()], before, 'no connection after the redirect either');
    t.same((await gw.residue()).objects, [], 'nothing persisted');
  });
}

t.test('a host entry opens that name whatever it resolves to', async (t) => {
  const res = await gw.step({ request: { url: `http://allowed-name.test:${port2}/json` } });
  t.equal(res.status, 200);
  t.same(res.json.body, { ok: true, items: [1, 2, 3], name: 'blobgate' });
});

t.test('an unresolvable name is upstream_unreachable', async (t) => {
  const res = await gw.step({ request: { url: 'http://nowhere.test/x', timeout: 2 } });
  t.equal(res.status, 502);
  t.equal(res.json.error.code, 'upstream_unreachable');
});

t.test('with an empty allow list even 127.0.0.1 is refused (the default)', async (t) => {
  const strict = await startGateway({ upstream: { allow: [] } });
  t.teardown(() => strict.close());
  const before = allowed.connections();
  const res = await strict.step({ request: { url: `${allowed.url}/json` } });
  t.equal(res.status, 403);
  t.equal(res.json.error.code, 'destination_blocked');
  t.equal(allowed.connections(), before);
});
