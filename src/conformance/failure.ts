import { BlobgateError } from '../errors.js';

/** A check's verdict that something is wrong, with the detail its runner shows (a smoke row, a tap failure). */
export class CheckFailure extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CheckFailure';
  }
}

const MAX_DETAIL = 300;

/**
 * One line for a row: the driver error (`code: message`) and what the backend
 * actually said (the SDK error kept as `cause`: `NoSuchBucket (HTTP 404)`,
 * `connect ECONNREFUSED 127.0.0.1:9`, …). The smoke test is an operator's
 * tool, so the cause is shown here instead of "see the server log". Never a
 * stack trace.
 */
export function describeError(err: unknown, prefix?: string): string {
  // A CheckFailure's message is written by a check, already in the form the row shows.
  if (err instanceof CheckFailure) return clip(err.message);
  const text = describeChain(err);
  // Keys under the run's prefix are shown relative to it (the report names the prefix once).
  return clip(prefix ? text.split(prefix).join('…/') : text);
}

function describeChain(err: unknown): string {
  const parts: string[] = [];
  let cur: unknown = err;
  const seen = new Set<unknown>();
  for (let depth = 0; depth < 6 && cur !== undefined && cur !== null && !seen.has(cur); depth++) {
    seen.add(cur);
    const text = describeOne(cur, depth === 0);
    if (text && !parts.some((p) => p.includes(text))) parts.push(text);
    cur = (cur as { cause?: unknown }).cause ?? firstOf(cur);
  }
  return parts.join(' — cause: ') || 'unknown error';
}

function describeOne(err: unknown, top: boolean): string {
  if (err instanceof BlobgateError) {
    const message = err.message.replace(/;? ?see the server log\.?$/, '.');
    return `${err.code}: ${message}`;
  }
  if (!(err instanceof Error)) return typeof err === 'string' ? err : top ? String(err) : '';
  const e = err as Error & { code?: unknown; status?: unknown; $metadata?: { httpStatusCode?: number }; response?: { status?: unknown } };
  const status = e.$metadata?.httpStatusCode ?? (typeof e.status === 'number' ? e.status : undefined) ?? (typeof e.response?.status === 'number' ? e.response.status : undefined) ?? (typeof e.code === 'number' ? e.code : undefined);
  const firstLine = (e.message ?? '').split('\n')[0]!.trim();
  // A body-less S3 answer (HeadBucket) has no error code: the SDK names it Unknown; the status says it all.
  if (e.$metadata !== undefined && (e.name === 'Unknown' || e.name === 'UnknownError') && status !== undefined) return `HTTP ${status}`;
  if (e.$metadata !== undefined && e.name !== 'Error') {
    // An S3 service error: its name is the S3 error code.
    return `${e.name}${status !== undefined ? ` (HTTP ${status})` : ''}${firstLine && firstLine !== e.name && firstLine !== 'UnknownError' ? `: ${firstLine}` : ''}`;
  }
  const code = typeof e.code === 'string' ? e.code : undefined;
  const head = [status !== undefined ? `HTTP ${status}` : undefined, code !== undefined && !firstLine.includes(code) ? code : undefined].filter(Boolean).join(' ');
  // An AggregateError without a message of its own is told by its first error (firstOf).
  if (firstLine === '' && Array.isArray((e as { errors?: unknown }).errors)) return '';
  if (firstLine === '' && head === '') return e.name;
  return head && firstLine ? `${head}: ${firstLine}` : head || firstLine;
}

/** AggregateError (e.g. a refused connection on every address of a name): its first error. */
function firstOf(err: unknown): unknown {
  const errors = (err as { errors?: unknown }).errors;
  return Array.isArray(errors) && errors.length > 0 && errors[0] instanceof Error ? errors[0] : undefined;
}

function clip(s: string): string {
  const one = s.replace(/\s+/g, ' ').trim();
  return one.length > MAX_DETAIL ? `${one.slice(0, MAX_DETAIL - 1)}…` : one;
}

/** Error codes of a connection that never got an answer (Node's, undici's). */
const UNREACHABLE_CODES = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'ETIMEDOUT', 'ECONNRESET', 'EHOSTUNREACH', 'ENETUNREACH', 'EPIPE', 'UND_ERR_CONNECT_TIMEOUT', 'UND_ERR_SOCKET']);
/** S3 error names (and bare statuses' names) that mean the credentials are refused or lack the permission. */
const DENIED_NAMES = new Set(['AccessDenied', 'InvalidAccessKeyId', 'SignatureDoesNotMatch', 'Forbidden', 'Unauthorized', 'ExpiredToken', 'InvalidToken']);

/**
 * Why a store's probe (`ping`) failed, in the words an operator acts on,
 * with what the backend said last: `unreachable — connect ECONNREFUSED
 * 127.0.0.1:9`, `bucket missing — …`, `access denied — AccessDenied (HTTP
 * 403)`, else `not ready — ` and the whole error.
 */
export function describeUnready(err: unknown): string {
  const chain = chainOf(err);
  const root = clip(describeOne(chain.at(-1), true) || describeChain(err));
  const status = (e: unknown): number | undefined => {
    const x = e as { $metadata?: { httpStatusCode?: number }; status?: unknown; code?: unknown; response?: { status?: unknown } };
    for (const v of [x?.$metadata?.httpStatusCode, x?.status, x?.response?.status, x?.code]) if (typeof v === 'number') return v;
    return undefined;
  };
  if (chain.some((e) => e instanceof BlobgateError && e.details?.reason === 'bucket_missing')) {
    return clip(`bucket missing — ${root} (blobgate never creates buckets: create it, or correct the store's bucket name)`);
  }
  if (chain.some((e) => typeof (e as { code?: unknown }).code === 'string' && UNREACHABLE_CODES.has((e as { code: string }).code))) return clip(`unreachable — ${root}`);
  if (chain.some((e) => status(e) === 401 || status(e) === 403 || (e instanceof Error && DENIED_NAMES.has(e.name)))) return clip(`access denied — ${root} (check the store's credentials and their permissions)`);
  return `not ready — ${describeError(err)}`;
}

/** The error and its causes, outermost first (AggregateErrors by their first error). */
function chainOf(err: unknown): unknown[] {
  const out: unknown[] = [];
  for (let cur = err; cur !== undefined && cur !== null && !out.includes(cur) && out.length < 6; cur = (cur as { cause?: unknown }).cause ?? firstOf(cur)) out.push(cur);
  return out;
}
