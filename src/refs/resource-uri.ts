import { BlobgateError } from '../errors.js';

/**
 * The only module that knows the `res://` grammar (docs/key-layout.md#resource-uris):
 *
 *   res://v1/ws/<workspace>/file/blob/<store>/<key-under-workspace>     what blobgate answers
 *   res://v1/ws/<workspace>/result/blob/<store>/<key-under-workspace>   the platform's result form, same blob
 *
 * where the object key is `workspaces/<workspace>/<key-under-workspace>`.
 * Every segment is percent-encoded with encodeURIComponent, so a key segment
 * holding '?', '#', '%' or a space survives the round trip. A decoded segment
 * holding '/' (an encoded %2F) is refused: keys are split on '/'. Table
 * resources (`…/result/table/<id>`) are the platform's and are refused by name.
 */
export interface BlobLocator {
  workspace: string;
  store: string;
  /** Full object key, `workspaces/<ws>/...`. */
  key: string;
}

const SCHEME = 'res://v1/ws/';
const WORKSPACE_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

export function isValidWorkspaceId(ws: string): boolean {
  return WORKSPACE_RE.test(ws);
}

export function workspacePrefix(ws: string): string {
  return `workspaces/${ws}/`;
}

export function formatResourceUri(loc: BlobLocator): string {
  const prefix = workspacePrefix(loc.workspace);
  if (!loc.key.startsWith(prefix)) throw new Error(`key ${loc.key} is outside workspace ${loc.workspace}`);
  const rest = loc.key.slice(prefix.length).split('/').map(encodeURIComponent).join('/');
  return `${SCHEME}${encodeURIComponent(loc.workspace)}/file/blob/${encodeURIComponent(loc.store)}/${rest}`;
}

const FORMS = 'res://v1/ws/<workspace>/file/blob/<store>/<path> (or …/result/blob/<store>/<path>)';
/** The resource kinds a URI may name; both mean a blob blobgate stores. */
const KINDS = new Set(['file', 'result']);

/** Parses a resource URI; anything not of the grammar is `invalid_request` saying what the form is. */
export function parseResourceUri(uri: unknown): BlobLocator {
  if (typeof uri !== 'string' || !uri.startsWith(SCHEME)) {
    throw invalid(`"uri" must be a resource URI of the form ${FORMS}`);
  }
  const parts = uri.slice(SCHEME.length).split('/');
  if (parts[2] === 'table') {
    throw invalid('"uri" names a table resource; blobgate stores blobs only, so it has no tables to read, sign or delete.');
  }
  if (!KINDS.has(parts[1] ?? '') || parts[2] !== 'blob') {
    throw invalid(`"uri" is not a blob resource URI; expected ${FORMS}`);
  }
  if (parts.length < 5) {
    throw invalid(`"uri" names no store and path; blobgate's blob URIs are ${FORMS}, as a resource ref's "uri" gives them`);
  }
  let decoded: string[];
  try {
    decoded = parts.map((p) => decodeURIComponent(p));
  } catch {
    throw invalid('"uri" holds a malformed percent-encoding');
  }
  const [workspace, , , store, ...rest] = decoded as [string, string, string, string, ...string[]];
  if (!isValidWorkspaceId(workspace)) throw invalid(`"uri" names an invalid workspace id`);
  if (store === '') throw invalid('"uri" names no store');
  for (const seg of rest) {
    if (seg === '' || seg === '.' || seg === '..' || seg.includes('/') || /[\u0000-\u001f\u007f\\]/.test(seg)) {
      throw new BlobgateError('path_invalid', `"uri" holds an invalid path segment ${JSON.stringify(seg)}`);
    }
  }
  return { workspace, store, key: `${workspacePrefix(workspace)}${rest.join('/')}` };
}

function invalid(message: string): BlobgateError {
  return new BlobgateError('invalid_request', message);
}
