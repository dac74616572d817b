import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import { isIP } from 'node:net';
import { Agent } from 'undici';
import { BlobgateError } from '../errors.js';
import { isDestinationAllowed, normalizeHost, parseAllowList, type AllowList } from './address-policy.js';

/** The resolver the guard asks; tests inject one that maps names to loopback addresses. */
export type Resolver = (hostname: string, callback: (err: NodeJS.ErrnoException | null, addresses: LookupAddress[]) => void) => void;

const systemResolver: Resolver = (hostname, callback) => dnsLookup(hostname, { all: true, verbatim: true }, callback);

type LookupCallback = (err: NodeJS.ErrnoException | null, address: string | LookupAddress[], family?: number) => void;

/**
 * The SSRF guard (DESIGN.md "Security defaults"). Every connection's address
 * is checked at connect time: the undici Agent's connector gets a `lookup`
 * that resolves the name, refuses the connection unless *every* resolved
 * address is allowed (public unicast, or opened by `upstream.allow`), and
 * hands net.connect exactly the addresses it checked — so a DNS answer that
 * changes between check and connect (rebinding) cannot slip through.
 * net.connect skips `lookup` for IP literals, so those are checked by
 * assertUrlAllowed before each request (and each redirect hop).
 * A refusal names the host, never the address it resolved to.
 *
 * Allow-list entries: an IP or CIDR entry opens those addresses when a URL
 * names them literally (http://127.0.0.1:9000/); a host entry opens that name
 * whatever it resolves to. A name that merely resolves into an allowed range
 * stays refused, so a hostile DNS name cannot be pointed at an internal
 * service that was opened by IP.
 */
export class UpstreamGuard {
  readonly dispatcher: Agent;
  private readonly allow: AllowList;
  /** For names: only host entries count (see below). */
  private readonly allowNames: AllowList;

  constructor(allow: readonly string[], private readonly resolver: Resolver = systemResolver) {
    this.allow = parseAllowList(allow);
    this.allowNames = { ...this.allow, networks: [] };
    this.dispatcher = new Agent({
      keepAliveTimeout: 10_000,
      connections: 256,
      connect: { lookup: (hostname: string, options: { all?: boolean }, cb: LookupCallback) => this.lookup(hostname, options, cb) },
    });
  }

  /** Scheme and IP-literal check for one request URL. */
  assertUrlAllowed(url: URL): void {
    if (url.protocol !== 'http:' && url.protocol !== 'https:') {
      throw new BlobgateError('destination_blocked', `The upstream URL uses the scheme "${url.protocol.replace(/:$/, '')}"; only http and https are allowed.`, { host: url.host });
    }
    const host = normalizeHost(url.hostname);
    if (isIP(host) !== 0 && !isDestinationAllowed(host, host, this.allow)) throw blocked(url.hostname);
  }

  async close(): Promise<void> {
    await this.dispatcher.close();
  }

  private lookup(hostname: string, options: { all?: boolean }, callback: LookupCallback): void {
    const host = normalizeHost(hostname);
    if (isIP(host) !== 0) {
      // Not reached through net.connect (it skips lookup for literals); kept for completeness.
      if (!isDestinationAllowed(host, host, this.allow)) return callback(blocked(hostname) as unknown as NodeJS.ErrnoException, []);
      return options.all ? callback(null, [{ address: host, family: isIP(host) }]) : callback(null, host, isIP(host));
    }
    this.resolver(host, (err, addresses) => {
      if (err) return callback(err, []);
      if (addresses.length === 0 || addresses.some((a) => !isDestinationAllowed(host, a.address, this.allowNames))) {
        return callback(blocked(hostname) as unknown as NodeJS.ErrnoException, []);
      }
      if (options.all) return callback(null, addresses);
      const first = addresses[0]!;
      return callback(null, first.address, first.family);
    });
  }
}

function blocked(host: string): BlobgateError {
  return new BlobgateError(
    'destination_blocked',
    `The upstream host ${host} is not allowed: it is not a public address. To allow a host on purpose, add it to upstream.allow (BLOBGATE_UPSTREAM_ALLOW).`,
    { host },
  );
}
