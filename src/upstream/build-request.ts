import { BlobgateError } from '../errors.js';
import { resolveMediaType } from '../persist/media-type.js';
import type { RequestCredential } from './credential-policy.js';
import { keyword, METHODS, type QueryValue, type StepRequest } from './types.js';

/**
 * A request body read from storage (body-from-ref, multipart with from-ref
 * parts). `open()` gives a fresh stream each time, so a 307/308 redirect can
 * send it again; the length is known up front and sent as Content-Length.
 */
export interface StreamedBody {
  length: number;
  open(signal: AbortSignal): Promise<import('node:stream').Readable>;
}

export interface BuiltRequest {
  url: URL;
  method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  headers: Record<string, string>;
  body?: string | Buffer | StreamedBody;
  /** The credential auth added, with where it may go; a hop that may not carry it drops it. */
  credential?: RequestCredential;
}

/**
 * Deepest nesting accepted in `json` / a non-string `body`. Real API payloads
 * nest a handful of levels; a few thousand overflow JSON.stringify's stack.
 */
export const MAX_JSON_DEPTH = 64;

/**
 * Headers a caller may not set: hop-by-hop and transport headers belong to
 * the connection blobgate makes, not to the step (RFC 9110 §7.6.1).
 */
const DROPPED_HEADERS = new Set(['connection', 'keep-alive', 'te', 'trailer', 'transfer-encoding', 'upgrade', 'host', 'content-length', 'expect']);

const RANGE_REASON = 'blobgate asks for ranges itself to resume a broken download; a caller range would be stored as if it were the whole body';
const OVERRIDE_REASON = 'it changes the method the upstream runs behind the one blobgate retries by; set request.method instead';
const FORWARDING_REASON = 'blobgate is the client and forwards for no one; an upstream that trusts these would take the caller for another client';
/**
 * Headers a step may not set, refused with invalid_request before any
 * request (README "The HTTP step"): refused rather than dropped, because a
 * caller who sets them expects an effect the request would silently lack.
 */
const REFUSED_HEADERS: ReadonlyMap<string, string> = new Map([
  ['range', RANGE_REASON],
  ['if-range', RANGE_REASON],
  ['x-http-method-override', OVERRIDE_REASON],
  ['x-http-method', OVERRIDE_REASON],
  ['x-method-override', OVERRIDE_REASON],
  ...['forwarded', 'via', 'x-real-ip', 'x-client-ip', 'true-client-ip', 'x-originating-ip', 'cf-connecting-ip'].map((h): [string, string] => [h, FORWARDING_REASON]),
]);

function refusedReason(lower: string): string | undefined {
  return REFUSED_HEADERS.get(lower) ?? (lower.startsWith('x-forwarded-') ? FORWARDING_REASON : undefined);
}

/** Turns the step's request fields into one upstream request; `json` wins over `body`. */
export function buildRequest(req: StepRequest): BuiltRequest {
  for (const field of ['template', 'parser-fn'] as const) {
    if (req[field] !== undefined) throw new BlobgateError('invalid_request', `request.${field} is not supported yet by this blobgate version; remove it.`, { field: `request.${field}` });
  }
  if (req.url === undefined) throw new BlobgateError('invalid_request', 'request.url is required.', { field: 'request.url' });
  let url: URL;
  try {
    url = new URL(req.url);
  } catch {
    throw new BlobgateError('invalid_request', 'request.url is not an absolute URL.', { field: 'request.url' });
  }
  for (const [name, value] of Object.entries(req.query ?? {})) appendParam(url.searchParams, name, value);

  const method = toMethod(req.method);
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(req.headers ?? {})) {
    assertHeaderField(name, value);
    const lower = name.toLowerCase();
    if (DROPPED_HEADERS.has(lower) || lower.startsWith('proxy-')) continue;
    const refused = refusedReason(lower);
    if (refused !== undefined) throw new BlobgateError('invalid_request', `request.headers.${name} may not be set: ${refused}.`, { field: `request.headers.${name}` });
    headers[lower] = value;
  }
  if (req.accept !== undefined) headers.accept = mimeOf(req.accept, 'request.accept');
  headers['accept-encoding'] = 'gzip, deflate, br';

  let body: string | undefined;
  let bodyType: string | undefined;
  if (req.json !== undefined) {
    assertJsonDepth(req.json, 'request.json');
    body = JSON.stringify(req.json);
    bodyType = 'application/json';
  } else if (req.form !== undefined) {
    const params = new URLSearchParams();
    for (const [name, value] of Object.entries(req.form)) appendParam(params, name, value);
    body = params.toString();
    bodyType = 'application/x-www-form-urlencoded';
  } else if (req.body !== undefined && req.body !== null) {
    if (typeof req.body === 'string') {
      body = req.body;
      bodyType = 'text/plain; charset=utf-8';
    } else {
      assertJsonDepth(req.body, 'request.body');
      body = JSON.stringify(req.body);
      bodyType = 'application/json';
    }
  }
  if (req['content-type'] !== undefined) bodyType = mimeOf(req['content-type'], 'request.content-type');
  if (body !== undefined && bodyType !== undefined && headers['content-type'] === undefined) headers['content-type'] = bodyType;
  return { url, method, headers, ...(body !== undefined ? { body } : {}) };
}

/** Iterative, so that the check itself cannot overflow the stack it protects. */
function assertJsonDepth(value: unknown, field: string): void {
  const pending: Array<[unknown, number]> = [[value, 1]];
  for (let next = pending.pop(); next !== undefined; next = pending.pop()) {
    const [v, depth] = next;
    if (v === null || typeof v !== 'object') continue;
    if (depth > MAX_JSON_DEPTH) {
      throw new BlobgateError('invalid_request', `${field} is nested deeper than ${MAX_JSON_DEPTH} levels; flatten it.`, { field, 'max-depth': MAX_JSON_DEPTH });
    }
    for (const child of Object.values(v)) if (child !== null && typeof child === 'object') pending.push([child, depth + 1]);
  }
}

function appendParam(params: URLSearchParams, name: string, value: QueryValue | QueryValue[]): void {
  for (const v of Array.isArray(value) ? value : [value]) params.append(name, String(v));
}

/** `json`, `:json`, `csv` … become full media types (src/persist/media-type.ts); anything else is invalid_request naming `field`. */
export function mimeOf(value: string, field: string): string {
  return resolveMediaType(value, field);
}

/**
 * `get`, `:get`, `GET` … as the method undici sends. undici refuses a method
 * it does not know (`:GET`) as a network error, which would surface as
 * upstream_unreachable and burn retries; so anything else is the caller's
 * invalid_request before any request.
 */
function toMethod(value: string | undefined): BuiltRequest['method'] {
  const m = keyword(value ?? 'get').toLowerCase();
  if (!(METHODS as readonly string[]).includes(m)) {
    throw new BlobgateError('invalid_request', `request.method ${JSON.stringify(value)} is not one of ${METHODS.join(', ')} (also written :get or GET).`, { field: 'request.method' });
  }
  return m.toUpperCase() as BuiltRequest['method'];
}

/** RFC 9110 §5.1: a field name is a token. */
const FIELD_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
/** RFC 9110 §5.5: visible ASCII, obs-text (0x80–0xFF, sent as latin1), space and tab. */
const FIELD_VALUE = /^[\t\x20-\x7e\x80-\xff]*$/;

/**
 * A header undici would refuse (UND_ERR_INVALID_ARG) is the caller's
 * mistake: it is invalid_request naming the header, never an
 * upstream_unreachable that burns retries.
 */
function assertHeaderField(name: string, value: string): void {
  if (/[\r\n\0]/.test(name) || /[\r\n\0]/.test(value)) {
    throw new BlobgateError('invalid_request', `request.headers.${sanitize(name)} holds a CR, LF or NUL character.`, { field: 'request.headers' });
  }
  if (!FIELD_NAME.test(name)) {
    throw new BlobgateError('invalid_request', `request.headers ${sanitize(name)} is not a header name: use letters, digits and !#$%&'*+-.^_\`|~ only (no spaces).`, { field: 'request.headers' });
  }
  if (!FIELD_VALUE.test(value)) {
    throw new BlobgateError('invalid_request', `request.headers.${name} holds a control character or a character beyond U+00FF; encode the value first.`, { field: `request.headers.${name}` });
  }
}

function sanitize(name: string): string {
  return JSON.stringify(name.replace(/[\r\n\0]/g, '?'));
}
