import { BlobgateError } from '../errors.js';

/** A check's verdict that something is wrong, with the detail the row shows. */
export class SmokeFailure extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SmokeFailure';
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
  // A SmokeFailure's message is written by a check, already in the form the row shows.
  if (err instanceof SmokeFailure) return clip(err.message);
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
