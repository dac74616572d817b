import { isIP } from 'node:net';
import { domainToASCII } from 'node:url';
import ipaddr from 'ipaddr.js';

/*
 * Address policy for the SSRF guard: only public unicast is allowed by default.
 *
 * Decision for every name ipaddr.js 2.5.0 `range()` can return (checked against lib/ipaddr.js SpecialRanges):
 *
 * IPv4
 *   unicast          ALLOWED  public unicast
 *   unspecified      refused  0.0.0.0/8 ("this network"; 0.0.0.0 reaches the local host on Linux)
 *   broadcast        refused  255.255.255.255
 *   multicast        refused  224.0.0.0/4
 *   linkLocal        refused  169.254.0.0/16, includes the 169.254.169.254 cloud metadata endpoint
 *   loopback         refused  127.0.0.0/8
 *   carrierGradeNat  refused  100.64.0.0/10, provider-internal
 *   private          refused  RFC 1918
 *   reserved         refused  192.0.0.0/24, 192.0.2/24, 192.88.99/24 (6to4 relay), 198.18.0.0/15 (benchmarking,
 *                             ipaddr.js files it here), 198.51.100/24, 203.0.113/24, 240.0.0.0/4
 *   as112            refused  RFC 7534/7535 DNS sinks for reverse lookups of private space: special purpose, serves no
 *                             content; fail closed (operators can allow-list it)
 *   amt              refused  RFC 7450 multicast tunnelling relays: special purpose, same reasoning
 * IPv6
 *   unicast          ALLOWED  only inside 2000::/3; anything else ipaddr.js calls unicast is 'reserved' (see below)
 *   unspecified, loopback, linkLocal (fe80::/10), multicast (ff00::/8), uniqueLocal (fc00::/7)     refused
 *   deprecatedSiteLocal  refused  fec0::/10, deprecated by RFC 3879 but may still route internally
 *   discard          refused  100::/64, RFC 6666 discard-only
 *   teredo           refused  2001::/32 tunnels to arbitrary IPv4 (client address only obfuscated)
 *   benchmarking     refused  2001:2::/48
 *   amt              refused  2001:3::/32, RFC 7450
 *   as112v6          refused  RFC 7534/7535, as for IPv4
 *   deprecatedOrchid, orchid2, droneRemoteIdProtocolEntityTags  refused  2001:10::/28, 2001:20::/28, 2001:30::/28:
 *                             cryptographic identifiers (RFC 4843, 7343, 9374), not routable locators
 *   segmentRouting   refused  5f00::/16, RFC 9602 SRv6 SIDs, not end hosts
 *   reserved         refused  2001::/23 rest, 2001:db8::/32 and 3fff::/20 documentation
 *   ipv4Mapped       embedded ::ffff:0:0/96 -> classified by the IPv4 in the low 32 bits; public is allowed
 *   rfc6052          embedded 64:ff9b::/96 NAT64 -> classified by the low 32 bits; public is allowed.
 *                             64:ff9b:1::/48 (RFC 8215 local-use NAT64) -> 'nat64Local', refused
 *   6to4             embedded 2002::/16 -> classified by the IPv4 in bits 16-48; public is allowed
 *   rfc6145          refused  ::ffff:0:0:0/96 IPv4-translated (SIIT-internal, never how a public host is reached);
 *                             the name still carries the embedded class for diagnostics
 * Not known to ipaddr.js (so handled here):
 *   ::/96 IPv4-compatible (RFC 4291 §2.5.5.1, deprecated; Linux sit0 tunnels it to the IPv4) -> classified by the
 *     embedded IPv4 like ipv4Mapped. ipaddr.js parses `::a.b.c.d` as `::ffff:a.b.c.d`; we parse it as written.
 *   IPv6 outside 2000::/3 (RFC 4291 §2.4; IANA allocates only 2000::/3 as global unicast) -> 'reserved'
 * Unparseable input -> 'invalid', refused.
 */

type IP = ipaddr.IPv4 | ipaddr.IPv6;

/** An allow entry's port: the one port it opens, or undefined for every port. */
interface HostEntry {
  readonly name: string;
  readonly port: number | undefined;
}
interface NetworkEntry {
  readonly net: IP;
  readonly bits: number;
  readonly port: number | undefined;
}

/**
 * Parsed `upstream.allow` entries: host names (exact, case-insensitive, trailing dot ignored), IP addresses, CIDRs
 * (v4 and v6), each optionally with a port (`host:port`, `10.0.0.0/8:9000`, `[fd00::1]:9000`, `[fd00::/8]:9000`)
 * that limits it to that one port.
 */
export interface AllowList {
  readonly entries: readonly string[];
  /** Normalized host name entries. */
  readonly hosts: readonly HostEntry[];
  /** IP entries (as /32 or /128) and CIDR entries; IPv4-mapped IPv6 ones are stored as IPv4. */
  readonly networks: readonly NetworkEntry[];
}

/** An address and port the gateway itself listens on (`0.0.0.0` or `::` for every local address). */
export interface Listener {
  readonly address: string;
  readonly port: number;
}

const LABEL = /^[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?$/;
// WHATWG URL "ends in a number": such a host is parsed as IPv4 (http://127.1/), so it never matches as a name.
const ENDS_IN_NUMBER = /(?:^|\.)(?:\d+|0x[0-9a-f]*)$/;
const COMPATIBLE = /^::(\d{1,3}(?:\.\d{1,3}){3})(?:%.*)?$/;

/** Normalizes a URL hostname for comparison: lower case, no trailing dot, IPv6 brackets and zone id removed. */
export function normalizeHost(hostname: string): string {
  let h = hostname.trim().toLowerCase();
  if (h.startsWith('[') && h.endsWith(']')) h = h.slice(1, -1);
  if (h.includes(':')) {
    const zone = h.indexOf('%');
    if (zone >= 0) h = h.slice(0, zone);
  }
  if (h.endsWith('.')) h = h.slice(0, -1);
  return h;
}

/** Parses a canonical IP literal (the forms node:net accepts: no octal, hex or short IPv4); null otherwise. */
function parseIp(text: string): IP | null {
  const s = normalizeHost(text);
  const kind = isIP(s);
  if (kind === 4) return ipaddr.IPv4.parse(s);
  if (kind !== 6) return null;
  const compatible = COMPATIBLE.exec(s);
  if (compatible) {
    const [a, b, c, d] = ipaddr.IPv4.parse(compatible[1]!).octets as [number, number, number, number];
    return new ipaddr.IPv6([0, 0, 0, 0, 0, 0, (a << 8) | b, (c << 8) | d]);
  }
  return ipaddr.IPv6.parse(s);
}

function isV4(ip: IP): ip is ipaddr.IPv4 {
  return ip.kind() === 'ipv4';
}

function v4(hi: number, lo: number): ipaddr.IPv4 {
  return new ipaddr.IPv4([hi >> 8, hi & 0xff, lo >> 8, lo & 0xff]);
}

/** `prefix→class` of an embedded IPv4, or plain 'unicast' when it is public and the form is an allowed carrier. */
function embedded(prefix: string, ip: ipaddr.IPv4, publicAllowed = true): string {
  const inner = ip.range();
  return inner === 'unicast' && publicAllowed ? 'unicast' : `${prefix}→${inner}`;
}

function classify(ip: IP): string {
  if (isV4(ip)) return ip.range();
  const p = ip.parts;
  const range: string = ip.range();
  switch (range) {
    case 'ipv4Mapped':
      return embedded('ipv4Mapped', v4(p[6]!, p[7]!));
    case 'rfc6145':
      return embedded('rfc6145', v4(p[6]!, p[7]!), false);
    case 'rfc6052':
      return p[2] === 1 ? 'nat64Local' : embedded('nat64', v4(p[6]!, p[7]!));
    case '6to4':
      return embedded('6to4', v4(p[1]!, p[2]!));
    case 'unicast':
      if (p.slice(0, 6).every((x) => x === 0)) return embedded('ipv4Compatible', v4(p[6]!, p[7]!));
      return (p[0]! & 0xe000) === 0x2000 ? 'unicast' : 'reserved';
    default:
      return range;
  }
}

/** The range an address falls in: 'unicast' for public unicast (the only class allowed by default), else its name. */
export function classifyAddress(address: string): string {
  const ip = parseIp(address);
  return ip ? classify(ip) : 'invalid';
}

/** IPv4-mapped IPv6 addresses compare as their IPv4. */
function unmap(ip: IP): ipaddr.IPv4 | ipaddr.IPv6 {
  return !isV4(ip) && ip.isIPv4MappedAddress() ? ip.toIPv4Address() : ip;
}

function parseNetwork(entry: string): { net: IP; bits: number } | null {
  const slash = entry.lastIndexOf('/');
  const ip = parseIp(slash < 0 ? entry : entry.slice(0, slash));
  if (!ip) return null;
  const max = isV4(ip) ? 32 : 128;
  const bits = slash < 0 ? max : /^\d{1,3}$/.test(entry.slice(slash + 1)) ? Number(entry.slice(slash + 1)) : NaN;
  if (!(bits >= 0 && bits <= max)) return null;
  if (!isV4(ip) && ip.isIPv4MappedAddress() && bits >= 96) return { net: ip.toIPv4Address(), bits: bits - 96 };
  return { net: ip, bits };
}

function parseHostName(entry: string): string | null {
  let h = normalizeHost(entry);
  if (/[^\x00-\x7f]/.test(h)) h = domainToASCII(h);
  if (h === '' || h.length > 253 || ENDS_IN_NUMBER.test(h)) return null;
  return h.split('.').every((label) => LABEL.test(label)) ? h : null;
}

const BRACKETED = /^\[([^\]]+)\](?::(\d{1,5}))?$/;
// One colon only: `host:port`, `10.0.0.5:9000`, `10.0.0.0/8:9000`. A bare IPv6 entry has several and no port.
const WITH_PORT = /^([^:[\]]+):(\d{1,5})$/;

/** One entry as host name or network plus its port; null when it is neither. */
function parseEntry(raw: string): HostEntry | NetworkEntry | null {
  const entry = raw.trim();
  const bracketed = BRACKETED.exec(entry);
  const withPort = bracketed ? null : WITH_PORT.exec(entry);
  const body = bracketed?.[1] ?? withPort?.[1] ?? entry;
  const portText = bracketed?.[2] ?? withPort?.[2];
  const port = portText === undefined ? undefined : Number(portText);
  if (port !== undefined && !(port >= 1 && port <= 65535)) return null;
  const network = parseNetwork(body);
  if (network) return bracketed && isV4(network.net) && !body.includes(':') ? null : { ...network, port };
  if (bracketed) return null; // brackets hold an IPv6 address or CIDR only
  const name = parseHostName(body);
  return name === null ? null : { name, port };
}

/** Throws Error naming the bad entry when one is not a host name, IP or CIDR (each optionally with a port). */
export function parseAllowList(entries: readonly string[]): AllowList {
  const hosts: HostEntry[] = [];
  const networks: NetworkEntry[] = [];
  for (const entry of entries) {
    const parsed = parseEntry(entry);
    if (parsed === null) throw new Error(`upstream.allow: ${JSON.stringify(entry)} is not a host name, IP address or CIDR (optionally with :port)`);
    if ('name' in parsed) hosts.push(parsed);
    else networks.push(parsed);
  }
  return Object.freeze({ entries: Object.freeze([...entries]), hosts: Object.freeze(hosts), networks: Object.freeze(networks) });
}

/**
 * True when a connection to `address` (a resolved IP literal) on `port` for URL host `host` may be made: public
 * unicast, or opened by an entry for that host or address whose port (if it names one) is `port`. Without `port`
 * only entries for every port count. Never throws. The gateway's own listeners are checked apart (isOwnListener).
 */
export function isDestinationAllowed(host: string, address: string, allow: AllowList, port?: number): boolean {
  try {
    const ip = parseIp(address);
    if (!ip) return false;
    if (classify(ip) === 'unicast') return true;
    const opens = (entryPort: number | undefined): boolean => entryPort === undefined || entryPort === port;
    const name = normalizeHost(host);
    if (allow.hosts.some((h) => h.name === name && opens(h.port))) return true;
    const target = unmap(ip);
    return allow.networks.some((n) => opens(n.port) && n.net.kind() === target.kind() && target.match(n.net, n.bits));
  } catch {
    return false;
  }
}

/**
 * True when `address`:`port` reaches one of the gateway's own listeners: the listener's address itself; for a
 * listener on 0.0.0.0 or :: any local address (loopback, the unspecified address, `localAddresses`, normally every
 * interface address); and 0.0.0.0 / :: as a destination, which Linux connects to the local host. Never throws.
 */
export function isOwnListener(address: string, port: number, listeners: readonly Listener[], localAddresses: readonly string[]): boolean {
  try {
    const ip = parseIp(address);
    if (!ip) return false;
    const target = unmap(ip);
    const mine = listeners.filter((l) => l.port === port).map((l) => parseIp(l.address)).filter((l): l is IP => l !== null).map(unmap);
    if (mine.length === 0) return false;
    if (target.range() === 'unspecified') return true;
    const local = (): boolean => target.range() === 'loopback' || localAddresses.some((a) => sameIp(parseIp(a), target));
    return mine.some((l) => (l.range() === 'unspecified' ? local() : sameIp(l, target)));
  } catch {
    return false;
  }
}

function sameIp(a: IP | null, b: IP): boolean {
  if (a === null) return false;
  const x = unmap(a);
  return x.kind() === b.kind() && x.toNormalizedString() === b.toNormalizedString();
}
