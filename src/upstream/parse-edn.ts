import { parseEDNString } from 'edn-data';
import { BlobgateError } from '../errors.js';
import { scanEdn } from './edn-scan.js';

/**
 * Parses an inline EDN body into JSON (README "The HTTP step" lists the
 * mapping): keywords and symbols become their name as a string (`:a/b` →
 * "a/b"), lists, vectors and sets become arrays, maps become objects, `#inst`
 * an ISO-8601 string, `#uuid` its string, any other tag
 * `{"tag": "<name>", "value": …}`. The text is first checked by `scanEdn`,
 * which bounds the nesting, so the recursive walk below stays within
 * `maxDepth` frames.
 */
export function parseEdn(text: string, maxDepth: number, status: number): unknown {
  const scanned = scanEdn(text, maxDepth);
  if ('problem' in scanned) {
    const p = scanned.problem;
    throw unparseable(`${p.message} at line ${p.line}, column ${p.column} (offset ${p.offset})`, status, { line: p.line, column: p.column, offset: p.offset });
  }
  if (scanned.text.trim() === '') return null;
  let value: unknown;
  try {
    // edn-data's default, lossless shapes ({key}, {sym}, {map: [[k, v]…]} …); mapAs "object" copies the map per key.
    value = parseEDNString(scanned.text, { tagHandlers: { inst: (v) => ({ tag: 'inst', val: v }) } });
  } catch (err) {
    throw unparseable(err instanceof Error ? err.message : 'malformed EDN', status);
  }
  return toJson(value, status);
}

function toJson(v: unknown, status: number): unknown {
  if (v === null || typeof v === 'string' || typeof v === 'boolean') return v;
  if (typeof v === 'number') return Number.isFinite(v) ? v : String(v);
  // A bigint (`12N`) stays a number when JSON can hold it exactly, else its digits as a string.
  if (typeof v === 'bigint') return Number.isSafeInteger(Number(v)) ? Number(v) : v.toString();
  if (Array.isArray(v)) return v.map((x) => toJson(x, status));
  const o = v as Record<string, unknown>;
  if (typeof o.key === 'string') return o.key;
  if (typeof o.sym === 'string') return o.sym;
  if (typeof o.char === 'string') return o.char;
  if (Array.isArray(o.list)) return o.list.map((x) => toJson(x, status));
  if (Array.isArray(o.set)) return o.set.map((x) => toJson(x, status));
  if (Array.isArray(o.map)) return mapToJson(o.map as Array<[unknown, unknown]>, status);
  if (typeof o.tag === 'string') return tagToJson(o.tag, o.val, status);
  throw unparseable('a value edn-data returned in a shape blobgate does not know', status);
}

/** Object keys are the JSON of the key unless it is a string already (keywords, symbols, strings). */
function mapToJson(entries: Array<[unknown, unknown]>, status: number): Record<string, unknown> {
  const out = new Map<string, unknown>();
  for (const [k, v] of entries) {
    const jk = toJson(k, status);
    const name = typeof jk === 'string' ? jk : JSON.stringify(jk);
    if (out.has(name)) {
      throw unparseable(`a map holds the key ${JSON.stringify(name)} twice once keywords, symbols and strings are all written as strings`, status);
    }
    out.set(name, toJson(v, status));
  }
  // fromEntries defines own properties, so a "__proto__" key stays data.
  return Object.fromEntries(out);
}

function tagToJson(tag: string, val: unknown, status: number): unknown {
  if (tag === 'uuid' && typeof val === 'string') return val;
  if (tag === 'inst' && typeof val === 'string') {
    const t = Date.parse(val);
    if (Number.isNaN(t)) throw unparseable(`#inst ${JSON.stringify(val)} is not a timestamp`, status);
    return new Date(t).toISOString();
  }
  return { tag, value: toJson(val, status) };
}

function unparseable(what: string, status: number, where: Record<string, number> = {}): BlobgateError {
  return new BlobgateError(
    'response_unparseable',
    `The upstream response is not valid EDN: ${what}; use response-as "text" to receive it as a string.`,
    { status, ...where },
  );
}
