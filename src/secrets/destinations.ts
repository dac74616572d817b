/**
 * Where a secret may be sent. A destination is an origin plus a path prefix:
 *   "api.example.com"            https://api.example.com/ (a bare host means https, default port)
 *   "api.example.com:8443"       https://api.example.com:8443/
 *   "https://x.example/v1/"      that origin, paths under /v1/
 *   "http://127.0.0.1:9000/"     plain http must be spelled out as a URL
 * A prefix without a trailing slash ends at a segment boundary: "/v1" matches
 * "/v1" and "/v1/…", not "/v10". No wildcards: every host is named.
 */
export interface Destination {
  origin: string;
  /** Always starts with "/"; "/" means the whole origin. */
  path: string;
}

/**
 * Every rule a hop must satisfy: one list per binding (the secret's own
 * `hosts`, the connection it is used through). A hop is permitted when each
 * list has a destination matching it. No lists: no restriction beyond the
 * cross-origin strip of the redirect follower.
 */
export type DestinationRules = readonly (readonly Destination[])[];

/** Parses one `hosts` entry; a string result is what is wrong with it. */
export function parseDestination(entry: string): Destination | string {
  if (entry.includes('://')) {
    let url: URL;
    try {
      url = new URL(entry);
    } catch {
      return 'is not a URL';
    }
    if (url.protocol !== 'https:' && url.protocol !== 'http:') return 'must be an http or https URL';
    if (url.username !== '' || url.password !== '') return 'may not hold user:password@';
    if (url.search !== '' || url.hash !== '') return 'may not hold a query or fragment';
    return { origin: url.origin, path: url.pathname };
  }
  if (!/^([A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*|\[[0-9A-Fa-f:.]+\])(:\d{1,5})?$/.test(entry)) {
    return 'must be a host name (api.example.com, host:port) or an http(s) URL prefix';
  }
  try {
    return { origin: new URL(`https://${entry}/`).origin, path: '/' };
  } catch {
    return 'is not a valid host';
  }
}

/** The destination of a connection: its whole origin. */
export function originOf(url: string | URL): Destination {
  return { origin: new URL(url).origin, path: '/' };
}

export function permits(rules: DestinationRules, url: URL): boolean {
  return rules.every((list) => list.some((d) => matches(d, url)));
}

function matches(d: Destination, url: URL): boolean {
  if (url.origin !== d.origin) return false;
  if (d.path === '/') return true;
  if (mayEscapePrefix(url.pathname)) return false;
  if (d.path.endsWith('/')) return url.pathname.startsWith(d.path);
  return url.pathname === d.path || url.pathname.startsWith(`${d.path}/`);
}

/**
 * A path that an upstream may resolve to somewhere outside the prefix, though
 * the URL parser saw no dot segment in it: an encoded slash or backslash
 * (decoded into a separator), a `%25` (decoded twice, `%252e%252e` becomes
 * `..`), or a segment `..;…` or `.;…` (Tomcat, Jetty and Spring strip the
 * `;` path parameter and then treat what is left as a dot segment).
 */
function mayEscapePrefix(pathname: string): boolean {
  if (/%2f|%5c|%25|\\/i.test(pathname)) return true;
  return pathname.split('/').some((segment) => /^\.{1,2}(;|$)/.test(segment.replace(/%2e/gi, '.').replace(/%3b/gi, ';')));
}

export function describeDestination(d: Destination): string {
  return `${d.origin}${d.path}`;
}
