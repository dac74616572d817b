import { isIP } from 'node:net';
import ipaddr from 'ipaddr.js';

/** A listen address as configured (`127.0.0.1:9464`, `[::1]:9464`). */
export interface ListenAddress {
  host: string;
  port: number;
}

/**
 * True when `host` accepts connections from this machine only: `localhost`,
 * 127.0.0.0/8, `::1` (also IPv4-mapped). 0.0.0.0, `::` and every other
 * address are reachable from outside.
 */
export function isLoopbackHost(host: string): boolean {
  const h = host.trim().toLowerCase().replace(/^\[(.*)\]$/, '$1');
  if (h === 'localhost') return true;
  if (isIP(h) === 0) return false;
  const ip = ipaddr.parse(h);
  const plain = ip.kind() === 'ipv6' && (ip as ipaddr.IPv6).isIPv4MappedAddress() ? (ip as ipaddr.IPv6).toIPv4Address() : ip;
  return plain.range() === 'loopback';
}

/** Parses `host:port` (IPv6 in brackets); port 0 picks a free one. Undefined when malformed. */
export function parseListenAddress(text: string): ListenAddress | undefined {
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([^:[\]\s]+)):(\d{1,5})$/.exec(text.trim());
  if (!m) return undefined;
  const host = m[1] ?? m[2]!;
  const port = Number(m[3]);
  if (port > 65535 || (m[1] !== undefined && isIP(host) !== 6)) return undefined;
  return { host, port };
}
