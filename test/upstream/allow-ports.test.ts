import type { LookupAddress } from 'node:dns';
import { networkInterfaces } from 'node:os';
import t from 'tap';
import { isDestinationAllowed, isOwnListener, parseAllowList } from '../../src/upstream/address-policy.js';
import { startGateway } from '../helpers/gateway.js';
import { startUpstream } from '../helpers/upstream.js';

t.test('allow entries with a port open that port only', async (t) => {
  const allow = parseAllowList(['127.0.0.1:9000', '10.0.0.0/8:443', '[::1]:9001', '[fd00::/8]:8443', 'svc.internal:8080', 'open.internal', '[fe80::1]']);
  const cases: Array<[string, string, number | undefined, boolean]> = [
    ['127.0.0.1', '127.0.0.1', 9000, true],
    ['127.0.0.1', '127.0.0.1', 9002, false],
    ['127.0.0.1', '127.0.0.1', undefined, false], // without a port only entries for every port count
    ['10.1.2.3', '10.1.2.3', 443, true],
    ['10.1.2.3', '10.1.2.3', 80, false],
    ['::1', '::1', 9001, true],
    ['::1', '::1', 9000, false],
    ['fd00::5', 'fd00::5', 8443, true],
    ['fd00::5', 'fd00::5', 443, false],
    ['svc.internal', '10.9.9.9', 8080, true],
    ['svc.internal', '10.9.9.9', 8081, false],
    ['open.internal', '10.9.9.9', 1234, true], // no port: every port
    ['fe80::1', 'fe80::1', 22, true], // bracketed without a port
    ['8.8.8.8', '8.8.8.8', 25, true], // public unicast needs no entry
  ];
  for (const [host, address, port, expected] of cases) {
    t.equal(isDestinationAllowed(host, address, allow, port), expected, `${host} @ ${address} port ${port}: ${expected ? 'allowed' : 'refused'}`);
  }
  for (const bad of ['127.0.0.1:0', '127.0.0.1:65536', '[127.0.0.1]:80', '[svc.internal]:80', 'svc.internal:', 'svc.internal:http', '[::1]:']) {
    t.throws(() => parseAllowList([bad]), { message: /is not a host name, IP address or CIDR/ }, `${bad} rejected`);
  }
  // An IPv6 entry takes a port only in brackets: `::1:80` is the address 0:0:0:0:0:0:1:80, every port.
  const bare = parseAllowList(['::1:80']);
  t.equal(isDestinationAllowed('::1', '::1', bare, 80), false);
  t.equal(isDestinationAllowed('::1:80', '::1:80', bare, 443), true);
});

t.test('the gateway\'s own listeners: exact address, every local address for 0.0.0.0 / ::, and the unspecified destination', async (t) => {
  const local = Object.values(networkInterfaces()).flatMap((l) => (l ?? []).map((i) => i.address));
  const lan = local.find((a) => !a.startsWith('127.') && a !== '::1' && !a.startsWith('fe80')) ?? '10.11.12.13';
  const addresses = lan === '10.11.12.13' ? [...local, lan] : local;
  const any = [{ address: '0.0.0.0', port: 8787 }];
  t.ok(isOwnListener('127.0.0.1', 8787, any, addresses));
  t.ok(isOwnListener('127.9.9.9', 8787, any, addresses), 'all of 127/8 reaches a 0.0.0.0 listener');
  t.ok(isOwnListener(lan, 8787, any, addresses), 'an interface address reaches a 0.0.0.0 listener');
  t.ok(isOwnListener('::ffff:127.0.0.1', 8787, any, addresses), 'IPv4-mapped form');
  t.notOk(isOwnListener('127.0.0.1', 8788, any, addresses), 'another port is not the gateway');
  t.notOk(isOwnListener('8.8.8.8', 8787, any, addresses), 'a remote address is not the gateway');
  t.ok(isOwnListener('::1', 8787, [{ address: '::', port: 8787 }], addresses));
  const lo = [{ address: '127.0.0.1', port: 8787 }];
  t.ok(isOwnListener('127.0.0.1', 8787, lo, addresses));
  t.notOk(isOwnListener('127.0.0.2', 8787, lo, addresses), 'a listener on 127.0.0.1 is not reached at 127.0.0.2');
  t.ok(isOwnListener('0.0.0.0', 8787, lo, addresses), 'connecting to 0.0.0.0 reaches the local host');
  t.ok(isOwnListener('::', 8787, lo, addresses));
  t.notOk(isOwnListener('127.0.0.1', 8787, [], addresses));
});

const a = await startUpstream();
const b = await startUpstream();
const portA = Number(new URL(a.url).port);
const names: Record<string, LookupAddress[]> = {
  'svc.test': [{ address: '127.0.0.1', family: 4 }],
  localhost: [{ address: '127.0.0.1', family: 4 }],
};
const logs: string[] = [];
const gw = await startGateway(
  { upstream: { allow: [`127.0.0.1:${portA}`, `svc.test:${portA}`] } },
  { resolver: (host, cb) => (names[host] ? cb(null, names[host]!) : cb(Object.assign(new Error(`no ${host}`), { code: 'ENOTFOUND' }), [])) },
);
// 127.0.0.1 opened for every port, as the other tests do: the gateway's own port must stay refused.
const open = await startGateway(
  { upstream: { allow: ['127.0.0.1', 'localhost', '0.0.0.0'] } },
  {
    resolver: (host, cb) => (names[host] ? cb(null, names[host]!) : cb(Object.assign(new Error(`no ${host}`), { code: 'ENOTFOUND' }), [])),
    logger: { level: 'info', stream: { write: (l: string) => logs.push(l) } },
  },
);
t.teardown(async () => {
  await Promise.all([gw.close(), open.close()]);
  await Promise.all([a.stop(), b.stop()]);
});

t.test('a step may reach the allowed port and no other, by IP and by name', async (t) => {
  t.equal((await gw.step({ request: { url: `${a.url}/json` } })).status, 200, 'IP entry, its port');
  t.equal((await gw.step({ request: { url: `http://svc.test:${portA}/json` } })).status, 200, 'host entry, its port');
  const before = b.connections();
  for (const url of [`${b.url}/json`, `http://svc.test:${new URL(b.url).port}/json`]) {
    const res = await gw.step({ request: { url, timeout: 2 } });
    t.equal(res.status, 403, `${url}: ${JSON.stringify(res.json)}`);
    t.equal(res.json.error.code, 'destination_blocked');
  }
  const hop = await gw.step({ request: { url: `${a.url}/redirect/302?to=${encodeURIComponent(`${b.url}/json`)}`, timeout: 2 } });
  t.equal(hop.json.error?.code, 'destination_blocked', 'a redirect to another port is refused too');
  t.equal(b.connections(), before, 'the other port saw no connection');
});

t.test('the gateway\'s own port is refused even though 127.0.0.1 is allowed', async (t) => {
  const port = new URL(open.url).port;
  t.equal((await open.step({ request: { url: `${a.url}/json` } })).status, 200, 'other loopback ports keep working');
  const targets = [`${open.url}/metrics`, `http://localhost:${port}/healthz`, `http://0.0.0.0:${port}/metrics`, `http://[::ffff:127.0.0.1]:${port}/metrics`];
  logs.length = 0;
  for (const url of targets) {
    const res = await open.step({ request: { url, timeout: 2 } });
    t.equal(res.status, 403, `${url}: ${JSON.stringify(res.json).slice(0, 300)}`);
    t.equal(res.json.error?.code, 'destination_blocked');
    t.match(res.json.error?.message, /own listening address/);
  }
  const hop = await open.step({ request: { url: `${a.url}/redirect/302?to=${encodeURIComponent(`${open.url}/metrics`)}`, timeout: 2 } });
  t.equal(hop.json.error?.code, 'destination_blocked', 'a redirect to the gateway is refused');
  const reached = logs.map((l) => JSON.parse(l) as { msg?: string; route?: string }).filter((l) => l.msg === 'request' && l.route !== '/v1/workspaces/:ws/http');
  t.same(reached, [], 'no request reached the gateway from a step');
});
