import { BlobgateError } from '../errors.js';
import { CREDENTIAL_HEADERS } from '../secrets/credential-names.js';
import { describeDestination, originOf, permits, type DestinationRules } from '../secrets/destinations.js';
import type { ResolvedSecret } from '../secrets/provider.js';

/**
 * The credential a request carries and where it may go. It travels with the
 * request (BuiltRequest.credential), so every hop — redirects, resumes — is
 * checked against the same rules; a hop that may not carry it gets it removed.
 */
export interface RequestCredential {
  /** The secret reference (for messages; never the value). */
  ref: string;
  /** Lower-case header names that carry the credential. */
  headers: readonly string[];
  /** Query parameter names that carry it. */
  query: readonly string[];
  /** Every form of the secret that is sent (value, base64 pair, minted token). */
  values: readonly string[];
  rules: DestinationRules;
}

/**
 * The destinations of a secret (README "Secrets and auth"): its own `hosts`,
 * and the connection's origin when it is used through a connection — both
 * must hold. A plain secret (no `hosts`) on a raw `url` has no destination of
 * its own: any token holder of the workspace could send it to an echo server
 * and read it back, so it is refused unless the operator opted in with
 * `secrets.allow-plain-on-url` (then it goes to the step's URL, and never
 * across an origin change).
 */
export function secretRules(secret: ResolvedSecret, connectionBaseUrl: string | undefined, allowPlainOnUrl: boolean): DestinationRules {
  const rules = [];
  if (secret.hosts) rules.push(secret.hosts);
  if (connectionBaseUrl !== undefined) rules.push([originOf(connectionBaseUrl)]);
  if (rules.length === 0 && !allowPlainOnUrl) {
    throw new BlobgateError(
      'secret_destination_refused',
      `The secret "${secret.ref}" has no destinations, so it is only sent through a connection. Use request.connection, or have the operator give the secret "hosts" in the secrets file.`,
      { 'secret-ref': secret.ref },
    );
  }
  return rules;
}

/** The first hop: a destination the secret may not go to is refused before any request. */
export function assertDestination(ref: string, rules: DestinationRules, url: URL, what = 'the request'): void {
  if (permits(rules, url)) return;
  const allowed = rules.map((list) => list.map(describeDestination));
  throw new BlobgateError('secret_destination_refused', `The secret "${ref}" may not be sent to ${url.origin}${url.pathname} (${what}); it is bound to ${allowed.map((l) => l.join(', ')).join(' and ')}.`, {
    'secret-ref': ref,
    destination: `${url.origin}${url.pathname}`,
    allowed,
  });
}

/**
 * The next hop of a redirect: credential headers (literal ones too) and
 * cookies never cross an origin change (Fetch standard, HTTP-redirect fetch);
 * the request's own credential stays only when the hop keeps the origin and
 * is a permitted destination. Removing it also removes its query parameter;
 * a target that still holds the secret (an upstream that copied it into
 * another parameter or the path) is refused rather than followed.
 */
export function credentialForHop(
  credential: RequestCredential | undefined,
  from: URL,
  to: URL,
  headers: Record<string, string>,
  extraHeaders: readonly string[],
): RequestCredential | undefined {
  const crossOrigin = to.origin !== from.origin;
  if (crossOrigin) for (const name of [...CREDENTIAL_HEADERS, ...extraHeaders.map((h) => h.toLowerCase())]) delete headers[name];
  if (!credential || (!crossOrigin && permits(credential.rules, to))) return credential;
  for (const name of credential.headers) delete headers[name];
  for (const name of credential.query) to.searchParams.delete(name);
  if (carries(to, credential.values)) {
    throw new BlobgateError('secret_destination_refused', `The upstream redirected to ${to.origin} with the secret "${credential.ref}" in the URL; blobgate does not follow it.`, {
      'secret-ref': credential.ref,
      destination: to.origin,
    });
  }
  return undefined;
}

/**
 * Whether a URL holds one of the values, raw or percent-decoded. Values under
 * 8 characters are skipped: too short to tell from ordinary URL text (the
 * named query parameter is removed in any case).
 */
function carries(url: URL, values: readonly string[]): boolean {
  const forms = [url.href, decoded(url.href), decoded(url.href.replace(/\+/g, ' '))];
  return values.some((v) => v.length >= 8 && forms.some((f) => f.includes(v)));
}

function decoded(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s; // a malformed escape: the raw form is still checked
  }
}
