import { BlobgateError } from '../errors.js';

/**
 * `connection` + `path`: the path resolves against the connection's base URL
 * and must stay within its origin and base path. Absolute URLs,
 * protocol-relative `//host`, `..` and `.` segments — also percent-encoded —
 * and backslashes are `path_invalid`.
 */
export function resolveConnectionPath(baseUrl: string, path: string | undefined): URL {
  const base = new URL(baseUrl);
  if (path === undefined || path === '') return base;
  if (/^[a-z][a-z0-9+.-]*:/i.test(path) || path.startsWith('//') || path.includes('\\')) {
    throw pathInvalid(path, 'must be a path on the connection, not an absolute or protocol-relative URL');
  }
  const [rawPath = '', rawQuery] = splitOnce(path, '?');
  let decoded: string[];
  try {
    decoded = rawPath.split('/').map((s) => decodeURIComponent(s));
  } catch {
    throw pathInvalid(path, 'holds a malformed percent-encoding');
  }
  for (const seg of decoded) {
    if (seg === '.' || seg === '..') throw pathInvalid(path, `may not contain a "${seg}" segment (also not percent-encoded)`);
    if (seg.includes('/') || seg.includes('\\')) throw pathInvalid(path, 'may not encode "/" or "\\" inside a segment');
    if (/[\u0000-\u001f\u007f]/.test(seg)) throw pathInvalid(path, 'may not contain control characters');
  }
  const basePath = base.pathname.endsWith('/') ? base.pathname : `${base.pathname}/`;
  const rel = rawPath.replace(/^\/+/, '');
  const url = new URL(base.origin);
  url.pathname = basePath + rel;
  if (rawQuery !== undefined) url.search = rawQuery;
  for (const [k, v] of base.searchParams) if (!url.searchParams.has(k)) url.searchParams.append(k, v);
  if (url.origin !== base.origin || !url.pathname.startsWith(basePath.replace(/\/$/, '')) ) {
    throw pathInvalid(path, 'leaves the connection\'s base URL');
  }
  return url;
}

function splitOnce(s: string, sep: string): [string, string | undefined] {
  const i = s.indexOf(sep);
  return i < 0 ? [s, undefined] : [s.slice(0, i), s.slice(i + 1)];
}

function pathInvalid(path: string, why: string): BlobgateError {
  return new BlobgateError('path_invalid', `request.path ${JSON.stringify(path)} ${why}.`, { field: 'request.path' });
}
