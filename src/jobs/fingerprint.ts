import { createHash } from 'node:crypto';
import { BlobgateError } from '../errors.js';
import type { IdempotencyClaim } from './engine.js';

/**
 * An Idempotency-Key header (docs/jobs.md#idempotency): 1–255 printable
 * ASCII characters, as the IETF httpapi draft and Stripe take them. The key
 * is scoped by workspace and route; the request it stands for is the
 * canonical JSON of the body (keys sorted at every level), so two bodies
 * that differ only in key order or white space are the same request.
 */
const KEY = /^[\x20-\x7e]{1,255}$/;

export function idempotencyClaim(header: string | string[] | undefined, workspace: string, route: string, body: unknown): IdempotencyClaim | undefined {
  if (header === undefined) return undefined;
  const key = Array.isArray(header) ? undefined : header;
  if (key === undefined || !KEY.test(key)) {
    throw new BlobgateError('invalid_request', 'The Idempotency-Key header must be one value of 1 to 255 printable ASCII characters (e.g. a UUID).', { field: 'idempotency-key' });
  }
  return {
    key,
    digest: sha256(`${route}\n${key}`),
    fingerprint: sha256(canonicalJson({ workspace, route, body })),
  };
}

function sha256(text: string): string {
  return createHash('sha256').update(text, 'utf8').digest('hex');
}

/** JSON with object keys sorted at every level. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.keys(value)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonicalJson((value as Record<string, unknown>)[k])}`);
    return `{${entries.join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}

/** RFC 7240: does a Prefer header ask for `respond-async`? */
export function prefersAsync(header: string | string[] | undefined): boolean {
  const values = Array.isArray(header) ? header : header === undefined ? [] : [header];
  return values.some((v) => v.split(',').some((pref) => pref.split(';')[0]?.trim().toLowerCase() === 'respond-async'));
}
