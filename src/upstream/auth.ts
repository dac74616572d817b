import { BlobgateError } from '../errors.js';
import { isCredentialHeader, isCredentialQueryParam } from '../secrets/credential-names.js';
import { normalizeRef, type ResolvedSecret } from '../secrets/provider.js';
import type { BuiltRequest } from './build-request.js';
import { assertDestination } from './credential-policy.js';
import type { GoogleTokenSource } from './google-token.js';

/**
 * Step and connection auth: secret references only; an inline token, key or
 * password is refused (docs/seed-contract.md#auth).
 *   {type: "bearer", secret-ref}
 *   {type: "api-key", secret-ref, header? (default X-Api-Key) | query?}
 *   {type: "basic", secret-ref, username?}   secret is the password, or "user:password" without username
 *   {type: "google-service-account", secret-ref, scopes}   secret is the service-account key JSON
 */
export interface AuthSpec {
  type: 'bearer' | 'api-key' | 'basic' | 'google-service-account';
  secretRef: string;
  header?: string;
  query?: string;
  username?: string;
  scopes?: string[];
}

const INLINE_FIELDS = ['token', 'value', 'password', 'api-key', 'key', 'secret', 'access-token', 'credentials'];
const AUTH_FIELDS = ['type', 'secret-ref', 'header', 'query', 'username', 'scopes'];
/**
 * Headers an api-key may not be sent in: hop-by-hop headers (RFC 9110 §7.6.1),
 * the Fetch standard's forbidden request-header names (Host, Content-Length,
 * Cookie, Origin, … and `Proxy-*`, `Sec-*`), forwarding headers, and the
 * headers blobgate sets itself (Accept-Encoding, Content-Type, Range, If-Range).
 */
const RESERVED_AUTH_HEADERS = new Set([
  'connection', 'keep-alive', 'proxy-connection', 'te', 'trailer', 'transfer-encoding', 'upgrade',
  'host', 'content-length', 'expect', 'accept-charset', 'accept-encoding', 'access-control-request-headers',
  'access-control-request-method', 'cookie', 'cookie2', 'date', 'dnt', 'origin', 'referer', 'set-cookie', 'via',
  'forwarded', 'x-forwarded-for', 'x-forwarded-host', 'x-forwarded-proto', 'x-http-method-override',
  'accept', 'content-type', 'content-encoding', 'range', 'if-range',
]);
/** RFC 9110 §5.1 field-name (a token). */
const FIELD_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

/** Validates an `auth` object as the API received it (kebab-case); inline credentials are `inline_secret_rejected`. */
export function parseAuth(raw: unknown, field: string): AuthSpec {
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) throw invalid(`${field} must be an object {type, secret-ref}.`, field);
  const a = raw as Record<string, unknown>;
  const inline = Object.keys(a).find((k) => INLINE_FIELDS.includes(k));
  if (inline) {
    throw new BlobgateError('inline_secret_rejected', `${field}.${inline} holds a credential inline; store it as a secret and give {"type": …, "secret-ref": "<name>"} instead.`, { field: `${field}.${inline}` });
  }
  const unknown = Object.keys(a).find((k) => !AUTH_FIELDS.includes(k));
  if (unknown) throw invalid(`Unknown field "${field}.${unknown}".`, `${field}.${unknown}`);
  const type = typeof a.type === 'string' ? a.type.replace(/^:/, '') : '';
  if (!['bearer', 'api-key', 'basic', 'google-service-account'].includes(type)) {
    throw invalid(`${field}.type must be one of bearer, api-key, basic, google-service-account.`, `${field}.type`);
  }
  if (typeof a['secret-ref'] !== 'string' || a['secret-ref'] === '') throw invalid(`${field}.secret-ref is required: the name of a secret in this workspace.`, `${field}.secret-ref`);
  const str = (k: string): string | undefined => {
    const v = a[k];
    if (v === undefined) return undefined;
    if (typeof v !== 'string' || v === '' || /[\r\n\0]/.test(v)) throw invalid(`${field}.${k} must be a non-empty string.`, `${field}.${k}`);
    return v;
  };
  const spec: AuthSpec = { type: type as AuthSpec['type'], secretRef: normalizeRef(a['secret-ref']) };
  const header = str('header');
  if (header !== undefined) assertAuthHeader(header, `${field}.header`);
  const query = str('query');
  const username = str('username');
  if (header !== undefined) spec.header = header;
  if (query !== undefined) spec.query = query;
  if (username !== undefined) spec.username = username;
  if (a.scopes !== undefined) {
    if (!Array.isArray(a.scopes) || !a.scopes.every((s) => typeof s === 'string' && s !== '')) throw invalid(`${field}.scopes must be an array of scope URLs.`, `${field}.scopes`);
    spec.scopes = a.scopes as string[];
  }
  if (spec.type === 'google-service-account' && !spec.scopes?.length) throw invalid(`${field}.scopes is required for google-service-account.`, `${field}.scopes`);
  return spec;
}

/** The header an api-key goes in must be an ordinary field name blobgate does not manage. */
function assertAuthHeader(name: string, field: string): void {
  const lower = name.toLowerCase();
  if (!FIELD_NAME.test(name)) throw invalid(`${field} is not a valid header name.`, field);
  if (RESERVED_AUTH_HEADERS.has(lower) || lower.startsWith('proxy-') || lower.startsWith('sec-')) {
    throw invalid(`${field} may not be "${name}": hop-by-hop, forbidden and transport headers cannot carry a credential. Use the header the API documents (e.g. X-Api-Key).`, field);
  }
}

/** A literal credential header (src/secrets/credential-names.ts) is an inline secret. */
export function rejectCredentialHeaders(headers: Record<string, string> | undefined, field: string): void {
  for (const name of Object.keys(headers ?? {})) {
    if (isCredentialHeader(name)) {
      throw new BlobgateError('inline_secret_rejected', `${field}.${name} would send a credential inline; use "auth" with a secret-ref instead.`, { field: `${field}.${name}` });
    }
  }
}

/**
 * Credentials in a URL are inline secrets too: `user:pass@` (which undici
 * would silently drop) and credential query parameters, in the URL or in
 * request.query. Checked before auth adds its own parameter.
 */
export function rejectCredentialUrl(url: URL, query: Record<string, unknown> | undefined, field: string): void {
  if (url.username !== '' || url.password !== '') {
    throw new BlobgateError('inline_secret_rejected', `${field} holds user:password@ credentials; remove them and use "auth" {"type": "basic", "secret-ref": …} instead.`, { field });
  }
  const fromQuery = Object.keys(query ?? {}).find(isCredentialQueryParam);
  if (fromQuery !== undefined) {
    throw new BlobgateError('inline_secret_rejected', `request.query.${fromQuery} would send a credential inline; use "auth" {"type": "api-key", "query": "${fromQuery}", "secret-ref": …} instead.`, { field: `request.query.${fromQuery}` });
  }
  const inUrl = [...url.searchParams.keys()].find(isCredentialQueryParam);
  if (inUrl !== undefined) {
    throw new BlobgateError('inline_secret_rejected', `The query parameter "${inUrl}" in ${field} would send a credential inline; use "auth" {"type": "api-key", "query": "${inUrl}", "secret-ref": …} instead.`, { field });
  }
}

export interface AuthContext {
  google: GoogleTokenSource;
}

/** What applyAuth added: where the credential sits and every form of it that was sent. */
export interface AppliedAuth {
  headers: string[];
  query: string[];
  values: string[];
}

/**
 * Adds the credential to the request. Returns where it went and the values
 * used, so that a redirect can remove them and anything echoed back (an error
 * excerpt) can be scrubbed of them.
 */
export async function applyAuth(req: BuiltRequest, auth: AuthSpec, secret: ResolvedSecret, ctx: AuthContext): Promise<AppliedAuth> {
  const value = secret.value;
  switch (auth.type) {
    case 'bearer':
      req.headers.authorization = `Bearer ${headerSafe(value)}`;
      return { headers: ['authorization'], query: [], values: [value] };
    case 'api-key': {
      if (auth.query !== undefined) {
        req.url.searchParams.set(auth.query, value);
        return { headers: [], query: [auth.query], values: [value] };
      }
      const header = (auth.header ?? 'x-api-key').toLowerCase();
      req.headers[header] = headerSafe(value);
      return { headers: [header], query: [], values: [value] };
    }
    case 'basic': {
      const pair = Buffer.from(auth.username !== undefined ? `${auth.username}:${value}` : value, 'utf8').toString('base64');
      req.headers.authorization = `Basic ${pair}`;
      return { headers: ['authorization'], query: [], values: [value, pair] };
    }
    case 'google-service-account': {
      // The signed assertion goes to the key's token endpoint: a bound secret may go only where it is bound.
      if (secret.hosts) assertDestination(secret.ref, [secret.hosts], tokenUri(value), 'the token endpoint of the service-account key');
      const token = await ctx.google.token(value, auth.scopes ?? []);
      req.headers.authorization = `Bearer ${headerSafe(token)}`;
      return { headers: ['authorization'], query: [], values: [token] };
    }
  }
}

/** The key's token_uri, or Google's default (as src/upstream/google-token.ts uses it). An unparseable key is reported by the token source. */
function tokenUri(keyJson: string): URL {
  let uri: unknown;
  try {
    uri = (JSON.parse(keyJson) as { token_uri?: unknown }).token_uri;
  } catch {
    // the token source reports a malformed key
  }
  try {
    return new URL(typeof uri === 'string' ? uri : GOOGLE_TOKEN_URI);
  } catch {
    return new URL(GOOGLE_TOKEN_URI);
  }
}

const GOOGLE_TOKEN_URI = 'https://oauth2.googleapis.com/token';

function headerSafe(value: string): string {
  if (/[\r\n\0]/.test(value)) throw new BlobgateError('invalid_request', 'The referenced secret holds a line break and cannot be sent in a header.');
  return value;
}

function invalid(message: string, field: string): BlobgateError {
  return new BlobgateError('invalid_request', message, { field });
}
