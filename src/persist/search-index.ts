import { Readable } from 'node:stream';
import { BlobgateError } from '../errors.js';
import { META_BUDGET_BYTES, type SearchIndex, type Tier } from '../storage/driver.js';

/**
 * Search-index data kept with a blob (docs/seed-contract.md#search-index,
 * README "Search index"): the caller's overrides (`text`, `tags`,
 * `source-label`) and, for text-like blobs, an excerpt of the raw text.
 *
 * Limits, in UTF-8 bytes (what a store keeps), checked before any upstream
 * byte moves or any upload byte is read:
 *   text          at most SEARCH_TEXT_MAX_BYTES (16 KiB)
 *   tags          at most SEARCH_TAGS_MAX (64), each 1..SEARCH_TAG_MAX_BYTES (128)
 *   source-label  at most SEARCH_LABEL_MAX_BYTES (256)
 *
 * Raw content: a text-like retained blob keeps the first RAW_TEXT_BYTES (512)
 * of its body unless `include-raw-content?` is false — small enough to stay in
 * object meta, so a persist that names no index costs no store request beyond
 * the write. An explicit `include-raw-content? true` keeps the first
 * RAW_TEXT_EXPLICIT_BYTES (16 KiB) on any tier. Binary blobs never keep any.
 *
 * Where it is kept: an index whose encoded form fits INLINE_MAX_ENCODED stays
 * in object meta beside the other bg-* fields (S3 allows 2 KiB of user
 * metadata, META_BUDGET_BYTES); a larger one goes to a sidecar record
 * (src/persist/search-sidecar.ts) and the meta only names it.
 */
export const SEARCH_TEXT_MAX_BYTES = 16 * 1024;
export const SEARCH_TAGS_MAX = 64;
export const SEARCH_TAG_MAX_BYTES = 128;
export const SEARCH_LABEL_MAX_BYTES = 256;
export const RAW_TEXT_BYTES = 512;
export const RAW_TEXT_EXPLICIT_BYTES = 16 * 1024;
/** Meta budget left for the other bg-* fields (tier, dates, sha256, storage scope) beside an inline index. */
const OTHER_META_BYTES = 648;
/** An index at most this long once percent-encoded stays in object meta (1,400 bytes). */
export const INLINE_MAX_ENCODED = META_BUDGET_BYTES - OTHER_META_BYTES;

export function encodedLength(index: SearchIndex): number {
  return encodeURIComponent(JSON.stringify(index)).length;
}

/**
 * Adds a raw excerpt. An implicit excerpt beside an index that fits in meta
 * is shortened until the whole still fits there (no sidecar for an index the
 * caller did not ask for); otherwise the excerpt is kept whole.
 */
export function withRawText(index: SearchIndex | undefined, text: string): SearchIndex {
  const base = index ?? {};
  if (base.includeRawContent === true || encodedLength(base) > INLINE_MAX_ENCODED) return { ...base, rawText: text };
  let excerpt = text;
  for (;;) {
    const candidate = { ...base, rawText: excerpt };
    if (encodedLength(candidate) <= INLINE_MAX_ENCODED || excerpt.length === 0) return candidate;
    excerpt = [...excerpt].slice(0, Math.floor([...excerpt].length * 0.8)).join('');
  }
}

/** Refuses an index over its limits with `invalid_request` naming the field and the limit. */
export function checkSearchIndexSize(index: SearchIndex | undefined, field: string): void {
  if (!index) return;
  const bytes = (s: string): number => Buffer.byteLength(s, 'utf8');
  if (index.text !== undefined && bytes(index.text) > SEARCH_TEXT_MAX_BYTES) {
    throw tooLarge(`${field}.text`, `is ${bytes(index.text)} bytes (UTF-8); the limit is ${SEARCH_TEXT_MAX_BYTES} bytes. Shorten it.`);
  }
  if (index.tags !== undefined) {
    if (index.tags.length > SEARCH_TAGS_MAX) throw tooLarge(`${field}.tags`, `has ${index.tags.length} tags; the limit is ${SEARCH_TAGS_MAX}.`);
    const bad = index.tags.findIndex((tag) => tag.length === 0 || bytes(tag) > SEARCH_TAG_MAX_BYTES);
    if (bad >= 0) throw tooLarge(`${field}.tags`, `[${bad}] is ${bytes(index.tags[bad]!)} bytes (UTF-8); each tag must be 1 to ${SEARCH_TAG_MAX_BYTES} bytes.`);
  }
  if (index.sourceLabel !== undefined && bytes(index.sourceLabel) > SEARCH_LABEL_MAX_BYTES) {
    throw tooLarge(`${field}.source-label`, `is ${bytes(index.sourceLabel)} bytes (UTF-8); the limit is ${SEARCH_LABEL_MAX_BYTES} bytes.`);
  }
}

function tooLarge(field: string, what: string): BlobgateError {
  return new BlobgateError('invalid_request', `${field} ${what}`, { field });
}

/** Parses the `search-index` form field of an upload (JSON), with the API's bounds. */
export function parseSearchIndexField(value: string): SearchIndex {
  let raw: unknown;
  try {
    raw = JSON.parse(value);
  } catch {
    throw invalid('the search-index field must be JSON: {"text"?, "tags"?, "source-label"?, "include-raw-content?"?}');
  }
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) throw invalid('the search-index field must be a JSON object');
  const r = raw as Record<string, unknown>;
  const unknown = Object.keys(r).find((k) => !['text', 'tags', 'source-label', 'include-raw-content?'].includes(k));
  if (unknown) throw invalid(`search-index has an unknown field "${unknown}"`);
  const out: SearchIndex = {};
  if (r.text !== undefined) {
    if (typeof r.text !== 'string') throw invalid('search-index.text must be a string');
    out.text = r.text;
  }
  if (r.tags !== undefined) {
    if (!Array.isArray(r.tags) || !r.tags.every((t) => typeof t === 'string')) throw invalid('search-index.tags must be an array of strings');
    out.tags = r.tags as string[];
  }
  if (r['source-label'] !== undefined) {
    if (typeof r['source-label'] !== 'string') throw invalid('search-index.source-label must be a string');
    out.sourceLabel = r['source-label'];
  }
  if (r['include-raw-content?'] !== undefined) {
    if (typeof r['include-raw-content?'] !== 'boolean') throw invalid('search-index.include-raw-content? must be true or false');
    out.includeRawContent = r['include-raw-content?'];
  }
  checkSearchIndexSize(out, 'search-index');
  return out;
}

export function isTextLike(contentType: string): boolean {
  const type = contentType.split(';')[0]!.trim().toLowerCase();
  return (
    type.startsWith('text/') ||
    type === 'application/json' ||
    type.endsWith('+json') ||
    type.endsWith('+xml') ||
    ['application/xml', 'application/javascript', 'application/x-ndjson', 'application/yaml', 'application/edn', 'application/x-www-form-urlencoded'].includes(type)
  );
}

/** How many leading bytes of the body to keep as raw text, or 0 for none (see the limits above). */
export function rawTextBytes(tier: Tier, contentType: string, index: SearchIndex | undefined): number {
  if (!isTextLike(contentType) || index?.includeRawContent === false) return 0;
  if (index?.includeRawContent === true) return RAW_TEXT_EXPLICIT_BYTES;
  return tier === 'retained' ? RAW_TEXT_BYTES : 0;
}

/**
 * Reads the first `n` bytes of `body` without losing them: resolves with those
 * bytes and a stream that yields them and then the rest. Destroying the new
 * stream destroys the original.
 */
export async function peek(body: Readable, n: number): Promise<{ head: Buffer; body: Readable }> {
  const iterator = body[Symbol.asyncIterator]();
  const chunks: Buffer[] = [];
  let size = 0;
  let ended = false;
  while (size < n) {
    const r = await iterator.next();
    if (r.done) {
      ended = true;
      break;
    }
    chunks.push(r.value as Buffer);
    size += (r.value as Buffer).length;
  }
  async function* replay(): AsyncGenerator<Buffer> {
    yield* chunks;
    if (ended) return;
    for (let r = await iterator.next(); !r.done; r = await iterator.next()) yield r.value as Buffer;
  }
  const out = Readable.from(replay(), { objectMode: false });
  out.once('close', () => {
    if (!body.destroyed) body.destroy();
  });
  return { head: Buffer.concat(chunks).subarray(0, n), body: out };
}

/** The longest valid UTF-8 prefix of a byte excerpt, or undefined when it is not text. */
export function textExcerpt(head: Buffer): string | undefined {
  for (let cut = head.length; cut >= Math.max(0, head.length - 3); cut--) {
    try {
      const text = new TextDecoder('utf-8', { fatal: true }).decode(head.subarray(0, cut));
      return text.includes('\u0000') ? undefined : text;
    } catch {
      // a multi-byte character was cut: try a shorter prefix
    }
  }
  return undefined;
}

function invalid(message: string): BlobgateError {
  return new BlobgateError('invalid_request', `${message}.`, { field: 'search-index' });
}
