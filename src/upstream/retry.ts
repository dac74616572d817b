import { setTimeout as sleep } from 'node:timers/promises';
import { BlobgateError } from '../errors.js';

/**
 * The step's `retry: {max-attempts, backoff-ms, max-backoff-ms?, non-idempotent?}`
 * (docs/seed-contract.md#the-http-step). Default: one attempt. Exponential backoff with
 * full jitter; `Retry-After` is honoured up to RETRY_AFTER_MAX_MS. POST and
 * PATCH are retried only when the step says `non-idempotent: true`.
 */
export interface RetryPolicy {
  maxAttempts: number;
  backoffMs: number;
  maxBackoffMs: number;
  nonIdempotent: boolean;
}

export const NO_RETRY: RetryPolicy = { maxAttempts: 1, backoffMs: 0, maxBackoffMs: 0, nonIdempotent: false };
const RETRY_AFTER_MAX_MS = 60_000;
export const RETRYABLE_STATUSES: ReadonlySet<number> = new Set([408, 429, 500, 502, 503, 504]);

export function parseRetry(raw: unknown): RetryPolicy {
  if (raw === undefined) return NO_RETRY;
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) throw invalid('request.retry must be an object {max-attempts, backoff-ms, max-backoff-ms?, non-idempotent?}.');
  const r = raw as Record<string, unknown>;
  const unknown = Object.keys(r).find((k) => !['max-attempts', 'backoff-ms', 'max-backoff-ms', 'non-idempotent'].includes(k));
  if (unknown) throw invalid(`Unknown field "request.retry.${unknown}".`);
  const int = (k: string, min: number, max: number, dflt: number): number => {
    const v = r[k];
    if (v === undefined) return dflt;
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) throw invalid(`request.retry.${k} must be an integer from ${min} to ${max}.`);
    return v;
  };
  const maxAttempts = int('max-attempts', 1, 10, 1);
  const backoffMs = int('backoff-ms', 0, 60_000, 500);
  const maxBackoffMs = int('max-backoff-ms', 0, 300_000, Math.max(backoffMs * 16, 30_000));
  if (r['non-idempotent'] !== undefined && typeof r['non-idempotent'] !== 'boolean') throw invalid('request.retry.non-idempotent must be true or false.');
  return { maxAttempts, backoffMs, maxBackoffMs, nonIdempotent: r['non-idempotent'] === true };
}

/** Whether a failed attempt may be tried again, by what failed. */
export function isRetryable(err: unknown): boolean {
  if (!(err instanceof BlobgateError)) return false;
  if (err.code === 'upstream_unreachable' || err.code === 'upstream_timeout') return true;
  return err.code === 'upstream_status' && typeof err.details?.status === 'number' && RETRYABLE_STATUSES.has(err.details.status) && err.details.chain === undefined;
}

export function mayRetryMethod(method: string, policy: RetryPolicy): boolean {
  return policy.nonIdempotent || !['POST', 'PATCH'].includes(method);
}

/** Delay before attempt `next` (2, 3, …): full jitter over an exponential ceiling, or the upstream's Retry-After. */
export function backoffDelay(policy: RetryPolicy, next: number, retryAfterMs?: number, random = Math.random): number {
  if (retryAfterMs !== undefined) return Math.min(retryAfterMs, RETRY_AFTER_MAX_MS);
  const ceiling = Math.min(policy.maxBackoffMs, policy.backoffMs * 2 ** (next - 2));
  return Math.round(random() * ceiling);
}

/** Retry-After as delay-seconds or an HTTP date (RFC 9110 §10.2.3). */
export function parseRetryAfter(value: string | undefined, now = Date.now()): number | undefined {
  if (value === undefined) return undefined;
  if (/^\d+$/.test(value.trim())) return Number(value.trim()) * 1000;
  const date = Date.parse(value);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}

export async function waitBeforeRetry(ms: number, signal: AbortSignal): Promise<void> {
  try {
    await sleep(ms, undefined, { signal });
  } catch {
    const reason: unknown = signal.reason;
    throw reason instanceof BlobgateError ? reason : new BlobgateError('aborted', 'The transfer was aborted while waiting to retry.');
  }
}

function invalid(message: string): BlobgateError {
  return new BlobgateError('invalid_request', message, { field: 'request.retry' });
}
