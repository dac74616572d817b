import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import { isIP } from 'node:net';
import { networkInterfaces } from 'node:os';
import { Agent, buildConnector, Pool } from 'undici';
import { BlobgateError } from '../errors.js';
import { isDestinationAllowed, isOwnListener, normalizeHost, parseAllowList, type AllowList, type Listener } from './address-policy.js';

/** The resolver the guard asks; tests inject one that maps names to loopback addresses. */
export type Resolver = (hostname: string, callback: (err: NodeJS.ErrnoException | null, addresses: LookupAddress[]) => void) => void;

const systemResolver: Resolver = (hostname, callback) => dnsLookup(hostname, { all: true, verbatim: true }, callback);

type LookupCallback = (err: NodeJS.ErrnoException | null, address: string | LookupAddress[], family?: number) => void;

/**
 * The SSRF guard (README "Upstream policy (SSRF guard)"). Every connection's
 * address is checked at connect time: each origin's connection pool gets a
 * connector whose `lookup` resolves the name, refuses the connection unless
 * *every* resolved address is allowed on the origin's port (public unicast, or
 * opened by `upstream.allow`), and hands net.connect exactly the addresses it
 * checked — so a DNS answer that changes between check and connect
 * (rebinding) cannot slip through. net.connect skips `lookup` for IP
 * literals, so the connector checks those itself, and assertUrlAllowed checks
 * them before each request (and each redirect hop) for an early refusal.
 * A refusal names the host, never the address it resolved to.
 *
 * Allow-list entries: an IP or CIDR entry opens those addresses when a URL
 * names them literally (http://127.0.0.1:9000/); a host entry opens that name
 * whatever it resolves to; an entry with a port opens that port only. A name
 * that merely resolves into an allowed range stays refused, so a hostile DNS
 * name cannot be pointed at an internal service that was opened by IP.
 *
 * The gateway's own listeners (ownListeners) are refused whatever the
 * allow-list opens: a step must not reach blobgate's API or /metrics from the
 * inside.
 */
export class UpstreamGuard {
  readonly dispatcher: Agent;
  private readonly allow: AllowList;
  /** For names: only host entries count (see below). */
  private readonly allowNames: AllowList;
  private readonly listeners: Listener[] = [];

  constructor(allow: readonly string[], private readonly resolver: Resolver = systemResolver) {
    this.allow = parseAllowList(allow);
    this.allowNames = { ...this.allow, networks: [] };
    this.dispatcher = new Agent({
      keepAliveTimeout: 10_000,
      connections: 256,
      // A pool serves one origin, so its connector knows the port every check needs.
      factory: (origin, opts) => new Pool(origin, { ...opts, connect: this.connectorFor(new URL(String(origin))) }),
    });
  }

  /** Adds addresses the gateway listens on (main and metrics listeners); connections to them are refused from now on. */
  ownListeners(listeners: readonly Listener[]): void {
    this.listeners.push(...listeners);
  }

  /** Scheme and IP-literal check for one request URL. */
  assertUrlAllowed(url: URL): void {
    if (url.protocol !== 'http:' && url.protocol !== 'https:') {
      throw new BlobgateError('destination_blocked', `The upstream URL uses the scheme "${url.protocol.replace(/:$/, '')}"; only http and https are allowed.`, { host: url.host });
    }
    const host = normalizeHost(url.hostname);
    if (isIP(host) !== 0) {
      const refusal = this.refusal(url.hostname, host, defaultPort(url), this.allow);
      if (refusal) throw refusal;
    }
  }

  async close(): Promise<void> {
    await this.dispatcher.close();
  }

  /** Why a connection to `address`:`port` for URL host `host` is refused, or undefined when it may be made. */
  private refusal(host: string, address: string, port: number, allow: AllowList): BlobgateError | undefined {
    // Only a listener on this port can be reached: the interface list (a netlink round trip and a parse,
    // ~3% of the CPU a small persist costs) is read only then.
    const listeners = this.listeners.filter((l) => l.port === port);
    if (listeners.length > 0 && isOwnListener(address, port, listeners, localAddresses())) return ownAddress(host, port);
    return isDestinationAllowed(normalizeHost(host), address, allow, port) ? undefined : blocked(host);
  }

  private connectorFor(origin: URL): buildConnector.connector {
    const port = defaultPort(origin);
    const connect = buildConnector({ lookup: (hostname: string, options: { all?: boolean }, cb: LookupCallback) => this.lookup(hostname, port, options, cb) } as buildConnector.BuildOptions);
    return (opts, callback) => {
      const host = normalizeHost(opts.hostname);
      const refusal = isIP(host) !== 0 ? this.refusal(opts.hostname, host, port, this.allow) : undefined;
      if (refusal) return callback(refusal, null);
      connect(opts, callback);
    };
  }

  private lookup(hostname: string, port: number, options: { all?: boolean }, callback: LookupCallback): void {
    const host = normalizeHost(hostname);
    if (isIP(host) !== 0) {
      // Not reached through net.connect (it skips lookup for literals); kept for completeness.
      const refusal = this.refusal(hostname, host, port, this.allow);
      if (refusal) return callback(refusal as unknown as NodeJS.ErrnoException, []);
      return options.all ? callback(null, [{ address: host, family: isIP(host) }]) : callback(null, host, isIP(host));
    }
    this.resolver(host, (err, addresses) => {
      if (err) return callback(err, []);
      const refusal = addresses.length === 0 ? blocked(hostname) : addresses.map((a) => this.refusal(hostname, a.address, port, this.allowNames)).find(Boolean);
      if (refusal) return callback(refusal as unknown as NodeJS.ErrnoException, []);
      if (options.all) return callback(null, addresses);
      const first = addresses[0]!;
      return callback(null, first.address, first.family);
    });
  }
}

function defaultPort(url: URL): number {
  return Number(url.port) || (url.protocol === 'https:' ? 443 : 80);
}

/** Every address of this host's interfaces (a listener on 0.0.0.0 or :: answers on each). */
function localAddresses(): string[] {
  return Object.values(networkInterfaces()).flatMap((list) => (list ?? []).map((i) => i.address));
}

function ownAddress(host: string, port: number): BlobgateError {
  return new BlobgateError(
    'destination_blocked',
    `The upstream ${host}:${port} is this gateway's own listening address; a step may not call blobgate itself. Use another host or port.`,
    { host },
  );
}

function blocked(host: string): BlobgateError {
  return new BlobgateError(
    'destination_blocked',
    `The upstream host ${host} is not allowed: it is not a public address. To allow a host on purpose, add it to upstream.allow (BLOBGATE_UPSTREAM_ALLOW).`,
    { host },
  );
}
