import type { Config } from '../config/types.js';
import { BlobgateError } from '../errors.js';
import type { SecretsProvider } from '../secrets/provider.js';
import { applyAuth, parseAuth, rejectCredentialHeaders, rejectCredentialUrl, type AuthSpec } from '../upstream/auth.js';
import { buildRequest, mimeOf, type BuiltRequest } from '../upstream/build-request.js';
import { resolveConnectionPath } from '../upstream/connections.js';
import { assertDestination, secretRules } from '../upstream/credential-policy.js';
export { scrubSecrets } from '../upstream/scrub.js';
import type { GoogleTokenSource } from '../upstream/google-token.js';
import type { StepRequest } from '../upstream/types.js';
import type { StoreRegistry } from '../storage/registry.js';
import { multipartBody, refBody } from './ref-bodies.js';

export interface PreparedRequest {
  built: BuiltRequest;
  /** Secret values in this request: scrubbed from anything echoed back. */
  secretValues: string[];
  /** Header names carrying the credential, dropped on a cross-origin redirect. */
  credentialHeaders: string[];
}

type Deps = { config: Config; stores: StoreRegistry; secrets: SecretsProvider; google: GoogleTokenSource };

/** Where the step goes: its URL (or connection + path), the headers with a connection's merged under, and the auth that applies. */
interface Target {
  url: string | undefined;
  headers: Record<string, string>;
  auth: AuthSpec | undefined;
  /** Set when the step goes through a connection: its secret goes only to that origin. */
  connectionBaseUrl?: string;
}

/**
 * Resolves `url` or `connection` + `path` (connections are per workspace),
 * merges connection headers under the step's, and applies step auth (or the
 * connection's) from secret references. Inline credentials are refused first;
 * a secret is refused before any request when the URL is not one of its
 * destinations.
 */
export async function prepareRequest(deps: Deps, workspace: string, request: StepRequest): Promise<PreparedRequest> {
  rejectCredentialHeaders(request.headers, 'request.headers');
  const target = resolveTarget(deps.config, workspace, request);
  const modes = (['json', 'form', 'multipart', 'body-from-ref'] as const).filter((m) => request[m] !== undefined);
  if (modes.length > 1 || (modes.some((m) => m === 'multipart' || m === 'body-from-ref') && request.body !== undefined)) {
    throw invalid(`Give one request body: ${[...modes, ...(request.body !== undefined ? ['body'] : [])].join(', ')} were all set (only json over body is resolved for you).`, `request.${modes[1] ?? 'body'}`);
  }
  const built = buildRequest({ ...request, ...(target.url !== undefined ? { url: target.url } : {}), headers: target.headers });
  rejectCredentialUrl(built.url, request.query, target.connectionBaseUrl !== undefined ? 'request.path' : 'request.url');
  const secret = target.auth ? await deps.secrets.resolve(workspace, target.auth.secretRef) : undefined;
  const rules = secret ? secretRules(secret, target.connectionBaseUrl, deps.config.secrets.allowPlainOnUrl === true) : [];
  if (secret) assertDestination(secret.ref, rules, built.url);
  if (request.multipart !== undefined) {
    const m = await multipartBody(deps, workspace, request.multipart);
    built.body = m.body;
    built.headers['content-type'] = m.contentType;
  } else if (request['body-from-ref'] !== undefined) {
    const r = await refBody(deps, workspace, request['body-from-ref']);
    built.body = r.body;
    // The blob's content type unless the step sets one (content-type field, or a Content-Type header).
    built.headers['content-type'] = request['content-type'] !== undefined ? mimeOf(request['content-type'], 'request.content-type') : (built.headers['content-type'] ?? r.contentType);
  }
  if (!target.auth || !secret) return { built, secretValues: [], credentialHeaders: [] };
  const applied = await applyAuth(built, target.auth, secret, { google: deps.google });
  built.credential = { ref: secret.ref, ...applied, rules };
  return { built, secretValues: applied.values, credentialHeaders: applied.headers };
}

function resolveTarget(config: Config, workspace: string, request: StepRequest): Target {
  const stepAuth = request.auth !== undefined ? parseAuth(request.auth, 'request.auth') : undefined;
  if (request.connection === undefined) {
    if (request.path !== undefined) throw invalid('request.path needs request.connection; for an ad hoc request give the full request.url.', 'request.path');
    return { url: request.url, headers: request.headers ?? {}, auth: stepAuth };
  }
  if (request.url !== undefined) throw invalid('Give either request.url or request.connection (with request.path), not both.', 'request.url');
  const name = request.connection.replace(/^:/, '');
  // Own properties only: a connection named "constructor" is not Object.prototype's.
  const ofWorkspace = Object.hasOwn(config.connections, workspace) ? config.connections[workspace] : undefined;
  const conn = ofWorkspace && Object.hasOwn(ofWorkspace, name) ? ofWorkspace[name] : undefined;
  if (!conn) {
    const known = Object.keys(ofWorkspace ?? {});
    throw invalid(`request.connection "${name}" is not a connection of workspace "${workspace}"${known.length ? ` (known: ${known.join(', ')})` : ''}.`, 'request.connection');
  }
  return {
    url: resolveConnectionPath(conn.baseUrl, request.path).toString(),
    headers: { ...(conn.headers ?? {}), ...(request.headers ?? {}) },
    auth: stepAuth ?? (conn.auth ? parseAuth(conn.auth, `connections.${name}.auth`) : undefined),
    connectionBaseUrl: conn.baseUrl,
  };
}

function invalid(message: string, field: string): BlobgateError {
  return new BlobgateError('invalid_request', message, { field });
}
