import type { Config } from '../config/types.js';
import { BlobgateError } from '../errors.js';
import type { SecretsProvider } from '../secrets/provider.js';
import { applyAuth, parseAuth, rejectCredentialHeaders, type AuthSpec } from '../upstream/auth.js';
import { buildRequest, mimeOf, type BuiltRequest } from '../upstream/build-request.js';
import { resolveConnectionPath } from '../upstream/connections.js';
export { scrubSecrets } from '../upstream/scrub.js';
import type { GoogleTokenSource } from '../upstream/google-token.js';
import type { StepRequest } from '../upstream/types.js';
import type { StoreRegistry } from '../storage/registry.js';
import { multipartBody, refBody } from './ref-bodies.js';

export interface PreparedRequest {
  built: BuiltRequest;
  /** Secret values in this request: scrubbed from anything echoed back. */
  secretValues: string[];
  /** Extra header names carrying the credential (api-key header), dropped on a cross-origin redirect. */
  credentialHeaders: string[];
}

/**
 * Resolves `url` or `connection` + `path` (connections are per workspace),
 * merges connection headers under the step's, and applies step auth (or the
 * connection's) from secret references. Inline credentials are refused first.
 */
export async function prepareRequest(
  deps: { config: Config; stores: StoreRegistry; secrets: SecretsProvider; google: GoogleTokenSource },
  workspace: string,
  request: StepRequest,
): Promise<PreparedRequest> {
  rejectCredentialHeaders(request.headers, 'request.headers');
  const stepAuth = request.auth !== undefined ? parseAuth(request.auth, 'request.auth') : undefined;
  let url = request.url;
  let headers = request.headers ?? {};
  let auth: AuthSpec | undefined = stepAuth;
  if (request.connection !== undefined) {
    if (request.url !== undefined) throw invalid('Give either request.url or request.connection (with request.path), not both.', 'request.url');
    const name = request.connection.replace(/^:/, '');
    const conn = deps.config.connections[workspace]?.[name];
    if (!conn) {
      const known = Object.keys(deps.config.connections[workspace] ?? {});
      throw invalid(`request.connection "${name}" is not a connection of workspace "${workspace}"${known.length ? ` (known: ${known.join(', ')})` : ''}.`, 'request.connection');
    }
    url = resolveConnectionPath(conn.baseUrl, request.path).toString();
    headers = { ...(conn.headers ?? {}), ...headers };
    auth = stepAuth ?? (conn.auth ? parseAuth(conn.auth, `connections.${name}.auth`) : undefined);
  } else if (request.path !== undefined) {
    throw invalid('request.path needs request.connection; for an ad hoc request give the full request.url.', 'request.path');
  }
  const modes = (['json', 'form', 'multipart', 'body-from-ref'] as const).filter((m) => request[m] !== undefined);
  if (modes.length > 1 || (modes.some((m) => m === 'multipart' || m === 'body-from-ref') && request.body !== undefined)) {
    throw invalid(`Give one request body: ${[...modes, ...(request.body !== undefined ? ['body'] : [])].join(', ')} were all set (only json over body is resolved for you).`, `request.${modes[1] ?? 'body'}`);
  }
  const built = buildRequest({ ...request, ...(url !== undefined ? { url } : {}), headers });
  if (request.multipart !== undefined) {
    const m = await multipartBody(deps, workspace, request.multipart);
    built.body = m.body;
    built.headers['content-type'] = m.contentType;
  } else if (request['body-from-ref'] !== undefined) {
    const r = await refBody(deps, workspace, request['body-from-ref']);
    built.body = r.body;
    // The blob's content type unless the step sets one (content-type field, or a Content-Type header).
    built.headers['content-type'] = request['content-type'] !== undefined ? mimeOf(request['content-type']) : (built.headers['content-type'] ?? r.contentType);
  }
  const secretValues = auth ? await applyAuth(built, auth, { workspace, secrets: deps.secrets, google: deps.google }) : [];
  const credentialHeaders = auth?.type === 'api-key' && auth.query === undefined ? [auth.header ?? 'x-api-key'] : [];
  return { built, secretValues, credentialHeaders };
}


function invalid(message: string, field: string): BlobgateError {
  return new BlobgateError('invalid_request', message, { field });
}
