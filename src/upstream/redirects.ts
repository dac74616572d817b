import { BlobgateError } from '../errors.js';
import type { BuiltRequest } from './build-request.js';
import { credentialForHop } from './credential-policy.js';
import { fetchUpstream, type UpstreamResponse } from './fetch.js';
import type { UpstreamGuard } from './guard.js';
import { scrubSecrets } from './scrub.js';

const REDIRECT_STATUSES = new Set([301, 302, 303, 307, 308]);

export interface FollowOptions {
  guard: UpstreamGuard;
  timeoutMs: number;
  signal: AbortSignal;
  /** 0 = do not follow: a 3xx is returned as it is. */
  maxRedirects: number;
  /** Header names that carry this request's credential (besides the usual ones). */
  credentialHeaders?: readonly string[];
  /** Secret values to scrub from the redirect chain reported in an error (an api-key in a query). */
  secretValues?: readonly string[];
}

/**
 * Sends a request and follows redirects itself, so that every hop passes the
 * SSRF guard again (scheme and IP-literal check here, resolved addresses in
 * the guard's connector). 301/302/303 turn a non-GET/HEAD request into a GET
 * without body, as browsers do; 307/308 keep method and body. Credentials and
 * cookies are dropped once a hop changes origin, and the request's own
 * credential also on a hop outside its secret's destinations
 * (src/upstream/credential-policy.ts).
 */
export async function fetchFollowingRedirects(req: BuiltRequest, opts: FollowOptions): Promise<UpstreamResponse & { redirects: string[]; request: BuiltRequest }> {
  const chain: string[] = [];
  let current: BuiltRequest = req;
  for (let hop = 0; ; hop++) {
    opts.guard.assertUrlAllowed(current.url);
    const res = await fetchUpstream(current, { dispatcher: opts.guard.dispatcher, timeoutMs: opts.timeoutMs, signal: opts.signal });
    const location = res.headers.location;
    if (!REDIRECT_STATUSES.has(res.status) || opts.maxRedirects === 0 || location === undefined) {
      // `request` is the last hop as sent: a resume must repeat it, not the first (whose credentials a cross-origin hop dropped).
      return { ...res, redirects: chain, request: current };
    }
    res.body.destroy();
    let next: URL;
    try {
      next = new URL(location, current.url);
    } catch {
      throw new BlobgateError('upstream_status', `The upstream answered ${res.status} with a Location that is not a URL.`, { status: res.status });
    }
    chain.push(current.url.toString());
    if (hop + 1 > opts.maxRedirects) {
      throw new BlobgateError('upstream_status', `The upstream redirected more than ${opts.maxRedirects} times (client-opts.max-redirects).`, {
        status: res.status,
        chain: [...chain, next.toString()].map((u) => scrubSecrets(u, opts.secretValues ?? [])),
      });
    }
    current = nextHop(current, next, res.status, opts.credentialHeaders ?? []);
  }
}

function nextHop(prev: BuiltRequest, url: URL, status: number, credentialHeaders: readonly string[]): BuiltRequest {
  const headers = { ...prev.headers };
  let method = prev.method;
  let body = prev.body;
  if (status !== 307 && status !== 308 && method !== 'GET') {
    method = 'GET';
    body = undefined;
    delete headers['content-type'];
  }
  // userinfo from a Location is never sent (undici would drop it silently anyway).
  url.username = '';
  url.password = '';
  const credential = credentialForHop(prev.credential, prev.url, url, headers, credentialHeaders);
  return { url, method, headers, ...(body !== undefined ? { body } : {}), ...(credential ? { credential } : {}) };
}
