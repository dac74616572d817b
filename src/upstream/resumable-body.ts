import { Readable } from 'node:stream';
import { BlobgateError } from '../errors.js';
import type { BuiltRequest } from './build-request.js';
import type { UpstreamResponse } from './fetch.js';
import { backoffDelay, isRetryable, waitBeforeRetry, type RetryPolicy } from './retry.js';

/**
 * Thrown when a resume is answered with 200 instead of 206 (the resource
 * changed, or ranges stopped working): the partial write must be abandoned
 * and the transfer restarted from the first byte.
 */
export class ResumeRefused extends Error {
  constructor(readonly status: number) {
    super(`the upstream answered ${status} to a ranged resume`);
    this.name = 'ResumeRefused';
  }
}

export interface AttemptBudget {
  /** Attempts made so far, first request included. */
  used: number;
  readonly policy: RetryPolicy;
}

/**
 * A response body that survives a broken connection: when the body fails
 * mid-way with a retryable error and the upstream advertised
 * `Accept-Ranges: bytes` with a strong ETag (or a Last-Modified), the rest is
 * asked for with `Range` + `If-Range` and the bytes continue in the same
 * stream — the store sees one continuous write and the sha256 covers the whole
 * object. A 200 to the resume means the resource changed: ResumeRefused.
 * Only identity-encoded GET responses are resumable (ranges of an encoded body
 * are ranges of the encoding).
 */
export function resumableBody(
  first: UpstreamResponse,
  req: BuiltRequest,
  budget: AttemptBudget,
  send: (req: BuiltRequest) => Promise<UpstreamResponse>,
  signal: AbortSignal,
): Readable {
  const found = resumeValidator(first, req);
  if (found === undefined) return first.body;
  const validator: string = found;
  const total = first.decodedLength;
  let current = first;
  let received = 0;
  async function* stream(): AsyncGenerator<Buffer> {
    for (;;) {
      try {
        for await (const chunk of current.body) {
          received += (chunk as Buffer).length;
          yield chunk as Buffer;
        }
        return;
      } catch (err) {
        if (!isRetryable(err) || budget.used >= budget.policy.maxAttempts || signal.aborted) throw err;
        budget.used++;
        await waitBeforeRetry(backoffDelay(budget.policy, budget.used), signal);
        // The write may have failed while we waited: then no further request goes out.
        if (out.destroyed) throw err;
        // identity: a range of an encoded body would be a range of the encoding.
        const next = await send({ ...req, headers: { ...req.headers, range: `bytes=${received}-`, 'if-range': validator, 'accept-encoding': 'identity' } });
        if (next.status === 206 && contentRangeStartsAt(next.headers['content-range'], received, total)) {
          current = next;
          continue;
        }
        next.body.destroy();
        if (next.status === 200) throw new ResumeRefused(200);
        throw new BlobgateError('upstream_status', `The upstream answered ${next.status} to a resume at byte ${received}.`, { status: next.status });
      }
    }
  }
  const out = Readable.from(stream(), { objectMode: false, highWaterMark: 64 * 1024 });
  out.once('close', () => {
    if (!current.body.destroyed) current.body.destroy();
  });
  return out;
}

/** The If-Range validator, when the response can be resumed at all. */
function resumeValidator(res: UpstreamResponse, req: BuiltRequest): string | undefined {
  if (req.method !== 'GET' || res.status !== 200 || res.decodedLength === undefined) return undefined;
  if (!/\bbytes\b/i.test(res.headers['accept-ranges'] ?? '')) return undefined;
  const etag = res.headers.etag;
  if (etag !== undefined && !etag.startsWith('W/')) return etag; // If-Range needs a strong validator (RFC 9110 §13.1.5)
  return res.headers['last-modified'];
}

function contentRangeStartsAt(value: string | undefined, start: number, total: number | undefined): boolean {
  const m = /^bytes (\d+)-(\d+)\/(\d+|\*)$/.exec(value ?? '');
  return m !== null && Number(m[1]) === start && (total === undefined || m[3] === String(total));
}
