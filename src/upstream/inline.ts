import { BlobgateError } from '../errors.js';
import type { UpstreamResponse } from './fetch.js';
import { jsonNestingExceeds } from './json-depth.js';
import { parseEdn } from './parse-edn.js';
import { parseXml } from './parse-xml.js';
import type { ResponseAs } from './types.js';

export interface InlineResult {
  type: 'http-response';
  status: number;
  headers: Record<string, string>;
  'content-type'?: string;
  body: unknown;
}

/**
 * Deepest nesting of arrays and objects an inline JSON body may have (and of
 * collections in EDN, elements in XML). Real documents stay far below; a few
 * thousand levels overflow the stack when the result is serialised.
 */
export const MAX_JSON_DEPTH = 512;

/**
 * Buffers a response that is not persisted, up to `limit` bytes (the inline
 * limit, or max-response-bytes when lower), and parses it per `response-as`.
 * Binary bodies are never inlined (docs/seed-contract.md#inline-results-and-binary-bodies).
 */
export async function inlineResponse(res: UpstreamResponse, responseAs: ResponseAs, limit: number): Promise<InlineResult> {
  const contentType = res.headers['content-type'];
  if (responseAs === 'bytes' || (responseAs === 'auto' && contentType !== undefined && classify(contentType) === 'binary')) {
    res.body.destroy();
    throw binaryRequiresPersist(contentType);
  }
  if (res.decodedLength !== undefined && res.decodedLength > limit) {
    res.body.destroy();
    throw tooLarge(limit, res.decodedLength);
  }
  const raw = await readBounded(res, limit);
  const kind = responseAs === 'auto' ? (contentType === undefined ? 'text' : classify(contentType)) : responseAs;
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(raw);
  } catch {
    throw binaryRequiresPersist(contentType);
  }
  if (kind === 'binary') throw binaryRequiresPersist(contentType); // refused above already; this narrows the type
  const body = parseAs(kind, text, res.status);
  return { type: 'http-response', status: res.status, headers: res.headers, ...(contentType ? { 'content-type': contentType } : {}), body };
}

function parseAs(kind: 'json' | 'text' | 'edn' | 'xml', text: string, status: number): unknown {
  if (kind === 'edn') return parseEdn(text, MAX_JSON_DEPTH, status);
  if (kind === 'xml') return parseXml(text, MAX_JSON_DEPTH, status);
  if (kind === 'text') return text;
  if (jsonNestingExceeds(text, MAX_JSON_DEPTH)) {
    throw new BlobgateError(
      'response_unparseable',
      `The upstream JSON response nests deeper than ${MAX_JSON_DEPTH} levels; use response-as "text" to receive it as a string, or persist it.`,
      { status, 'max-depth': MAX_JSON_DEPTH },
    );
  }
  try {
    return text.trim() === '' ? null : JSON.parse(text);
  } catch {
    throw new BlobgateError('response_unparseable', 'The upstream response is not valid JSON; use response-as "text" to receive it as a string.', { status });
  }
}

async function readBounded(res: UpstreamResponse, limit: number): Promise<Buffer> {
  const parts: Buffer[] = [];
  let size = 0;
  for await (const chunk of res.body) {
    size += (chunk as Buffer).length;
    if (size > limit) {
      res.body.destroy();
      throw tooLarge(limit);
    }
    parts.push(chunk as Buffer);
  }
  return Buffer.concat(parts, size);
}

/** What `auto` makes of a content type: JSON, EDN and XML are parsed, other text-like types stay text. */
function classify(contentType: string): 'json' | 'edn' | 'xml' | 'text' | 'binary' {
  const type = contentType.split(';')[0]!.trim().toLowerCase();
  if (type === 'application/json' || type.endsWith('+json')) return 'json';
  if (type === 'application/edn') return 'edn';
  if (type === 'application/xml' || type === 'text/xml' || type.endsWith('+xml')) return 'xml';
  if (
    type.startsWith('text/') ||
    ['application/javascript', 'application/x-www-form-urlencoded', 'application/yaml', 'application/x-ndjson', 'application/graphql'].includes(type)
  ) {
    return 'text';
  }
  return 'binary';
}

function tooLarge(limit: number, announced?: number): BlobgateError {
  return new BlobgateError(
    'inline_limit_exceeded',
    `The upstream response is larger than the inline limit of ${limit} bytes${announced === undefined ? '' : ` (Content-Length ${announced})`}; add persist {"type": "blob"} to store it and get a resource ref.`,
    { 'limit-bytes': limit, ...(announced === undefined ? {} : { 'announced-bytes': announced }) },
  );
}

function binaryRequiresPersist(contentType: string | undefined): BlobgateError {
  return new BlobgateError(
    'binary_requires_persist',
    `The upstream response is binary (${contentType ?? 'no content type'}); binary bodies are never inlined. Add persist {"type": "blob", "tier": "ephemeral"}.`,
    contentType ? { 'content-type': contentType } : undefined,
  );
}
