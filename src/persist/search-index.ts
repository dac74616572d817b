import { Readable } from 'node:stream';
import { BlobgateError } from '../errors.js';
import { META_BUDGET_BYTES, type SearchIndex, type Tier } from '../storage/driver.js';

/**
 * Search-index data kept with a blob (docs/seed-contract.md#search-index):
 * the caller's overrides (`text`, `tags`, `source-label`) and, for text-like
 * retained blobs unless `include-raw-content?` is false, an excerpt of the raw
 * text. Ephemeral and binary blobs never get raw content.
 *
 * Bounds: it all travels in object meta, which every store keeps up to
 * META_BUDGET_BYTES (2 KiB, src/storage/driver.ts), so the caller's part is
 * limited to 1,024 bytes once percent-encoded, and the raw excerpt to the
 * first 512 bytes of the body, shortened until the whole index is at most
 * 1,400 bytes encoded.
 */
export const SEARCH_INDEX_MAX_ENCODED = 1024;
export const RAW_TEXT_BYTES = 512;
/** Meta budget left for the other bg-* fields (tier, dates, sha256, storage scope) beside the index. */
const OTHER_META_BYTES = 648;
/** The whole index with its raw excerpt, encoded: 1,400 bytes. */
const WITH_RAW_MAX_ENCODED = META_BUDGET_BYTES - OTHER_META_BYTES;

/** Adds a raw excerpt, shortened until the encoded index fits its bound. */
export function withRawText(index: SearchIndex | undefined, text: string): SearchIndex {
  let excerpt = text;
  for (;;) {
    const candidate = { ...(index ?? {}), rawText: excerpt };
    if (encodeURIComponent(JSON.stringify(candidate)).length <= WITH_RAW_MAX_ENCODED || excerpt.length === 0) return candidate;
    excerpt = [...excerpt].slice(0, Math.floor([...excerpt].length * 0.8)).join('');
  }
}

export function checkSearchIndexSize(index: SearchIndex | undefined, field: string): void {
  if (!index) return;
  const encoded = encodeURIComponent(JSON.stringify(index)).length;
  if (encoded > SEARCH_INDEX_MAX_ENCODED) {
    throw new BlobgateError('invalid_request', `${field} is ${encoded} bytes once encoded for storage metadata; the limit is ${SEARCH_INDEX_MAX_ENCODED}. Shorten text or tags.`, { field });
  }
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
    if (!Array.isArray(r.tags) || r.tags.length > 16 || !r.tags.every((t) => typeof t === 'string' && t.length > 0 && t.length <= 64)) throw invalid('search-index.tags must be up to 16 strings of 1-64 characters');
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

export function wantsRawText(tier: Tier, contentType: string, index: SearchIndex | undefined): boolean {
  return tier === 'retained' && isTextLike(contentType) && index?.includeRawContent !== false;
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
