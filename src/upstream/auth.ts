import { BlobgateError } from '../errors.js';
import { normalizeRef, type SecretsProvider } from '../secrets/provider.js';
import type { BuiltRequest } from './build-request.js';
import type { GoogleTokenSource } from './google-token.js';

/**
 * Step and connection auth: secret references only (seed 004: "Auth must use
 * secret references. Inline tokens or API keys are rejected.").
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
/** Headers that carry credentials: never accepted literally, dropped when a redirect changes origin. */
export const CREDENTIAL_HEADERS = ['authorization', 'proxy-authorization', 'x-api-key', 'api-key'];

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

/** A literal Authorization-like header is an inline secret. */
export function rejectCredentialHeaders(headers: Record<string, string> | undefined, field: string): void {
  for (const name of Object.keys(headers ?? {})) {
    if (CREDENTIAL_HEADERS.includes(name.toLowerCase())) {
      throw new BlobgateError('inline_secret_rejected', `${field}.${name} would send a credential inline; use "auth" with a secret-ref instead.`, { field: `${field}.${name}` });
    }
  }
}

export interface AuthContext {
  workspace: string;
  secrets: SecretsProvider;
  google: GoogleTokenSource;
}

/**
 * Adds the credential to the request. Returns the secret values used, so that
 * anything echoed back (an error excerpt) can be scrubbed of them.
 */
export async function applyAuth(req: BuiltRequest, auth: AuthSpec, ctx: AuthContext): Promise<string[]> {
  const secret = await ctx.secrets.resolve(ctx.workspace, auth.secretRef);
  switch (auth.type) {
    case 'bearer':
      req.headers.authorization = `Bearer ${headerSafe(secret)}`;
      return [secret];
    case 'api-key':
      if (auth.query !== undefined) req.url.searchParams.set(auth.query, secret);
      else req.headers[(auth.header ?? 'x-api-key').toLowerCase()] = headerSafe(secret);
      return [secret];
    case 'basic': {
      const pair = auth.username !== undefined ? `${auth.username}:${secret}` : secret;
      req.headers.authorization = `Basic ${Buffer.from(pair, 'utf8').toString('base64')}`;
      return [secret, Buffer.from(pair, 'utf8').toString('base64')];
    }
    case 'google-service-account': {
      const token = await ctx.google.token(secret, auth.scopes ?? []);
      req.headers.authorization = `Bearer ${headerSafe(token)}`;
      return [token];
    }
  }
}

function headerSafe(value: string): string {
  if (/[\r\n\0]/.test(value)) throw new BlobgateError('invalid_request', 'The referenced secret holds a line break and cannot be sent in a header.');
  return value;
}

function invalid(message: string, field: string): BlobgateError {
  return new BlobgateError('invalid_request', message, { field });
}
