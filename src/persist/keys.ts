import { BlobgateError } from '../errors.js';
import { workspacePrefix } from '../refs/resource-uri.js';

/**
 * Key layout (docs/key-layout.md#object-keys):
 *   default: workspaces/<ws>/persist/<flow-slug>/<step-id>/<uuid>/<path>/<filename>
 *   slot:    workspaces/<ws>/storage/<root>/<path>/<filename>
 * Every segment is checked after interpolation, and the final key must start
 * with its workspace prefix.
 */
export function checkSegments(value: string, field: string, opts: { allowEmpty?: boolean } = {}): string[] {
  if (value === '' && opts.allowEmpty) return [];
  if (value.startsWith('/')) {
    throw pathInvalid(field, value, 'must be relative: remove the leading "/"');
  }
  const segments = value.split('/');
  for (const seg of segments) {
    if (seg === '') throw pathInvalid(field, value, 'has an empty segment ("//" or a trailing "/")');
    if (seg === '.' || seg === '..') throw pathInvalid(field, value, `may not contain a "${seg}" segment`);
    if (seg.includes('\\')) throw pathInvalid(field, value, 'may not contain a backslash');
    if (seg.includes('\u0000')) throw pathInvalid(field, value, 'may not contain a NUL character');
    // eslint-disable-next-line no-control-regex
    if (/[\u0001-\u001f\u007f]/.test(seg)) throw pathInvalid(field, value, 'may not contain control characters');
    if (Buffer.byteLength(seg) > 255) throw pathInvalid(field, value, 'has a segment longer than 255 bytes');
  }
  return segments;
}

export function buildKey(workspace: string, segments: string[]): string {
  const prefix = workspacePrefix(workspace);
  const key = prefix + segments.join('/');
  if (!key.startsWith(prefix) || key.length === prefix.length) throw new BlobgateError('path_invalid', 'The key does not lie inside the workspace.');
  if (Buffer.byteLength(key) > 1024) throw new BlobgateError('path_invalid', `The object key is ${Buffer.byteLength(key)} bytes long; keys are limited to 1024 bytes. Shorten path or filename.`);
  return key;
}

function pathInvalid(field: string, value: string, why: string): BlobgateError {
  return new BlobgateError('path_invalid', `${field} ${JSON.stringify(value)} ${why}.`, { field });
}
