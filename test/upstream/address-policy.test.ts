import ipaddr from 'ipaddr.js';
import t from 'tap';
import { classifyAddress, isDestinationAllowed, normalizeHost, parseAllowList } from '../../src/upstream/address-policy.js';

const none = parseAllowList([]);

/** [address, expected class]; the address is allowed with an empty allow list exactly when the class is 'unicast'. */
const ADDRESSES: readonly (readonly [string, string])[] = [
  // public IPv4
  ['8.8.8.8', 'unicast'],
  ['1.1.1.1', 'unicast'],
  ['172.32.0.1', 'unicast'],
  ['100.128.0.1', 'unicast'],
  ['198.20.0.1', 'unicast'],
  // refused IPv4
  ['127.0.0.1', 'loopback'],
  ['127.255.255.254', 'loopback'],
  ['10.0.0.1', 'private'],
  ['172.16.5.4', 'private'],
  ['172.31.255.255', 'private'],
  ['192.168.1.1', 'private'],
  ['169.254.169.254', 'linkLocal'],
  ['169.254.0.1', 'linkLocal'],
  ['100.64.0.1', 'carrierGradeNat'],
  ['100.127.255.254', 'carrierGradeNat'],
  ['0.0.0.0', 'unspecified'],
  ['0.1.2.3', 'unspecified'],
  ['255.255.255.255', 'broadcast'],
  ['224.0.0.1', 'multicast'],
  ['239.255.255.250', 'multicast'],
  ['240.0.0.1', 'reserved'],
  ['192.0.0.8', 'reserved'],
  ['192.0.2.1', 'reserved'],
  ['198.51.100.7', 'reserved'],
  ['203.0.113.9', 'reserved'],
  ['198.18.0.1', 'reserved'], // benchmarking: ipaddr.js files 198.18.0.0/15 under 'reserved'
  ['198.19.255.255', 'reserved'],
  ['192.88.99.1', 'reserved'],
  ['192.175.48.1', 'as112'],
  ['192.52.193.1', 'amt'],
  // public IPv6
  ['2606:4700:4700::1111', 'unicast'],
  ['2001:4860:4860::8888', 'unicast'],
  // refused IPv6
  ['::1', 'loopback'],
  ['::', 'unspecified'],
  ['fe80::1', 'linkLocal'],
  ['febf::1', 'linkLocal'],
  ['fc00::1', 'uniqueLocal'],
  ['fd12:3456::1', 'uniqueLocal'],
  ['fec0::1', 'deprecatedSiteLocal'],
  ['ff02::1', 'multicast'],
  ['ff05::1:3', 'multicast'],
  ['2001:db8::1', 'reserved'],
  ['3fff::1', 'reserved'],
  ['2001:5::1', 'reserved'],
  ['2001:2::1', 'benchmarking'],
  ['2001:0:4136:e378:8000:63bf:3fff:fdd2', 'teredo'],
  ['100::1', 'discard'],
  ['5f00::1', 'segmentRouting'],
  ['2001:3::1', 'amt'],
  ['2001:4:112::1', 'as112v6'],
  ['2001:10::1', 'deprecatedOrchid'],
  ['2001:20::1', 'orchid2'],
  ['2001:30::1', 'droneRemoteIdProtocolEntityTags'],
  ['4000::1', 'reserved'], // outside 2000::/3
  ['1::1', 'reserved'],
  // IPv4-mapped
  ['::ffff:8.8.8.8', 'unicast'],
  ['::ffff:808:808', 'unicast'],
  ['::ffff:127.0.0.1', 'ipv4Mapped→loopback'],
  ['::ffff:7f00:1', 'ipv4Mapped→loopback'],
  ['::ffff:169.254.169.254', 'ipv4Mapped→linkLocal'],
  ['::ffff:10.0.0.1', 'ipv4Mapped→private'],
  ['::ffff:0.0.0.0', 'ipv4Mapped→unspecified'],
  // IPv4-compatible (ipaddr.js alone would read ::a.b.c.d as ::ffff:a.b.c.d)
  ['::127.0.0.1', 'ipv4Compatible→loopback'],
  ['::7f00:1', 'ipv4Compatible→loopback'],
  ['::10.1.2.3', 'ipv4Compatible→private'],
  ['::0.0.0.1', 'loopback'],
  ['::8.8.8.8', 'unicast'],
  ['0:0:0:0:0:0:8.8.8.8', 'unicast'],
  // NAT64
  ['64:ff9b::808:808', 'unicast'],
  ['64:ff9b::8.8.8.8', 'unicast'],
  ['64:ff9b::127.0.0.1', 'nat64→loopback'],
  ['64:ff9b::a00:1', 'nat64→private'],
  ['64:ff9b::a9fe:a9fe', 'nat64→linkLocal'],
  ['64:ff9b:1::808:808', 'nat64Local'],
  // 6to4
  ['2002:0808:0808::1', 'unicast'],
  ['2002:7f00:1::1', '6to4→loopback'],
  ['2002:c0a8:101::1', '6to4→private'],
  ['2002:a9fe:a9fe::1', '6to4→linkLocal'],
  ['2002:6440:1::1', '6to4→carrierGradeNat'],
  // IPv4-translated (SIIT): refused even for a public IPv4
  ['::ffff:0:808:808', 'rfc6145→unicast'],
  ['::ffff:0:a00:1', 'rfc6145→private'],
  // zone ids, brackets, case, trailing dot
  ['fe80::1%eth0', 'linkLocal'],
  ['fe80::1%25eth0', 'linkLocal'],
  ['[::1]', 'loopback'],
  ['FE80::1', 'linkLocal'],
  ['::FFFF:7F00:1', 'ipv4Mapped→loopback'],
  ['127.0.0.1.', 'loopback'],
  // unparseable or non-canonical: refused
  ['', 'invalid'],
  ['localhost', 'invalid'],
  ['127.1', 'invalid'],
  ['0177.0.0.1', 'invalid'],
  ['0x7f.0.0.1', 'invalid'],
  ['2130706433', 'invalid'],
  ['256.1.1.1', 'invalid'],
  ['::ffff:127.1', 'invalid'],
  ['::ffff:0177.0.0.1', 'invalid'],
  ['1.2.3.4/32', 'invalid'],
  ['2001:db8::zz', 'invalid'],
];

t.test('classification corpus', async (t) => {
  for (const [address, expected] of ADDRESSES) {
    t.equal(classifyAddress(address), expected, `${address} is ${expected}`);
    t.equal(isDestinationAllowed(address, address, none), expected === 'unicast', `${address} ${expected === 'unicast' ? 'allowed' : 'refused'}`);
  }
});

t.test('every range name ipaddr.js knows has a vector (a new ipaddr.js range needs a decision)', async (t) => {
  const names = (proto: object) => Object.keys((proto as { SpecialRanges: Record<string, unknown> }).SpecialRanges);
  const classes = new Set(ADDRESSES.map(([, c]) => c.replace(/→.*/, '')));
  const carriers: Record<string, string> = { ipv4Mapped: 'ipv4Mapped', rfc6052: 'nat64', '6to4': '6to4', rfc6145: 'rfc6145' };
  const known = [...names(ipaddr.IPv4.prototype), ...names(ipaddr.IPv6.prototype)];
  t.same(
    known.filter((n) => !classes.has(carriers[n] ?? n)),
    [],
  );
  t.equal(known.length, 30, 'ipaddr.js 2.5.0 has 10 IPv4 and 20 IPv6 names (update the decision table when this changes)');
});

/** [url, normalized hostname, class]: the WHATWG URL parser canonicalizes numeric IPv4 forms before we see them. */
const URLS: readonly (readonly [string, string, string])[] = [
  ['http://2130706434/', '127.0.0.2', 'loopback'],
  ['http://0x7f000001/', '127.0.0.1', 'loopback'],
  ['http://0177.0.0.1/', '127.0.0.1', 'loopback'],
  ['http://127.1/', '127.0.0.1', 'loopback'],
  ['http://0x7f.1/', '127.0.0.1', 'loopback'],
  ['http://0/', '0.0.0.0', 'unspecified'],
  ['http://169.254.169.254./latest/meta-data/', '169.254.169.254', 'linkLocal'],
  ['http://[::1]/', '::1', 'loopback'],
  ['http://[::ffff:127.0.0.1]/', '::ffff:7f00:1', 'ipv4Mapped→loopback'],
  ['http://[::ffff:7f00:1]/', '::ffff:7f00:1', 'ipv4Mapped→loopback'],
  ['http://[64:ff9b::8.8.8.8]/', '64:ff9b::808:808', 'unicast'],
  ['http://LOCALHOST./', 'localhost', 'invalid'],
  ['http://Example.COM:8080/x', 'example.com', 'invalid'],
];

t.test('URL host forms', async (t) => {
  for (const [url, host, expected] of URLS) {
    const normalized = normalizeHost(new URL(url).hostname);
    t.equal(normalized, host, `${url} host is ${host}`);
    t.equal(classifyAddress(normalized), expected, `${url} is ${expected}`);
  }
  t.throws(() => new URL('http://[fe80::1%25eth0]/'), { code: 'ERR_INVALID_URL' }, 'URLs cannot carry a zone id');
});

t.test('normalizeHost', async (t) => {
  const cases: readonly (readonly [string, string])[] = [
    ['localhost.', 'localhost'],
    ['EXAMPLE.Com.', 'example.com'],
    ['[::1]', '::1'],
    ['fe80::1%eth0', 'fe80::1'],
    ['[FE80::1%25ETH0]', 'fe80::1'],
    ['a.b', 'a.b'],
  ];
  for (const [input, expected] of cases) t.equal(normalizeHost(input), expected, `${input} -> ${expected}`);
});

t.test('allow list', async (t) => {
  const entries = ['Internal.Example.', '10.1.2.3', '192.168.0.0/16', 'fd00:1234::/32', '::1', '::ffff:172.16.0.0/108', ' bücher.example '];
  const allow = parseAllowList(entries);
  t.same(allow.entries, entries);
  const cases: readonly (readonly [string, string, boolean])[] = [
    ['internal.example', '10.9.9.9', true], // host entry
    ['INTERNAL.EXAMPLE.', '10.9.9.9', true], // case and trailing dot
    ['other.example', '10.9.9.9', false], // non-matching host
    ['sub.internal.example', '10.9.9.9', false], // exact, not a suffix
    ['10.9.9.9', '10.9.9.9', false],
    ['x.example', '10.1.2.3', true], // IP entry
    ['x.example', '::ffff:10.1.2.3', true], // mapped address vs IPv4 IP entry
    ['x.example', '10.1.2.4', false],
    ['x.example', '192.168.44.5', true], // v4 CIDR
    ['x.example', '::ffff:192.168.44.5', true], // mapped address in v4 CIDR
    ['x.example', '10.200.0.1', false], // private, outside every entry
    ['x.example', 'fd00:1234:5::1', true], // v6 CIDR
    ['x.example', 'fd00:1235::1', false],
    ['x.example', '::1', true],
    ['x.example', '127.0.0.1', false], // ::1 does not cover 127.0.0.1
    ['x.example', '172.16.3.4', true], // mapped CIDR entry compared as 172.16.0.0/12
    ['x.example', '172.32.0.1', true], // public anyway
    ['x.example', '100.64.0.1', false], // CGNAT, outside every entry
    [new URL('http://bücher.example/').hostname, '10.9.9.9', true], // IDN entry stored as punycode
    ['internal.example', 'not-an-ip', false], // malformed address: refused even for an allowed host
    ['internal.example', '', false],
    ['x.example', '8.8.8.8', true],
  ];
  for (const [host, address, expected] of cases) {
    t.equal(isDestinationAllowed(host, address, allow), expected, `${host} @ ${address} ${expected ? 'allowed' : 'refused'}`);
  }
  t.equal(isDestinationAllowed('localhost', '127.0.0.1', none), false, 'empty list refuses loopback');
  t.equal(isDestinationAllowed('localhost', '127.0.0.1', parseAllowList(['localhost'])), true, 'localhost by name');
});

t.test('invalid allow entries throw naming the entry', async (t) => {
  const bad = ['*.example.com', 'exa mple.com', '10.0.0.0/33', '10.0.0.0/', '10.0.0.0/8x', '127.1', '0x7f.0.0.1', '-bad.example', 'a..b', '', 'fe80::/129', '2001:db8::zz', 'http://x.example/'];
  for (const entry of bad) {
    t.throws(() => parseAllowList(['ok.example', entry]), { message: new RegExp(`${JSON.stringify(entry).replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')} is not a host name`) }, `${JSON.stringify(entry)} rejected`);
  }
});
