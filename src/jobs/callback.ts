import { createHmac } from 'node:crypto';
import { BlobgateError } from '../errors.js';
import type { SecretsProvider } from '../secrets/provider.js';
import { fetchUpstream } from '../upstream/fetch.js';
import type { UpstreamGuard } from '../upstream/guard.js';
import { publicJob, type JobRecord } from './job-record.js';

/**
 * A job's completion callback (docs/jobs.md#callbacks): when the job ends,
 * its replica POSTs the final job as JSON to `url`, signed with the secret
 * `secret-ref` names in the job's workspace:
 *
 *   Blobgate-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>
 *
 * the scheme Stripe's webhooks use, so a receiver checks the signature over
 * the raw body and refuses an old `t` (a replay). The POST goes through the
 * SSRF guard like any upstream request, follows no redirect, and is retried
 * with backoff while it fails (a network error, or a status outside 2xx).
 */
export interface CallbackSpec {
  url: string;
  'secret-ref': string;
}

export const SIGNATURE_HEADER = 'blobgate-signature';

/** Checks a callback spec at submit, before any upstream byte moves: the URL and that the secret exists. */
export async function checkCallback(spec: CallbackSpec, workspace: string, guard: UpstreamGuard, secrets: SecretsProvider): Promise<void> {
  let url: URL;
  try {
    url = new URL(spec.url);
  } catch {
    throw new BlobgateError('invalid_request', 'callback.url is not an absolute URL.', { field: 'callback.url' });
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') throw new BlobgateError('invalid_request', 'callback.url must be an http or https URL.', { field: 'callback.url' });
  guard.assertUrlAllowed(url);
  await secrets.resolve(workspace, spec['secret-ref']);
}

export function signature(secret: string, timestamp: number, body: string): string {
  return `t=${timestamp},v1=${createHmac('sha256', secret).update(`${timestamp}.${body}`, 'utf8').digest('hex')}`;
}

export interface CallbackDeps {
  guard: UpstreamGuard;
  secrets: SecretsProvider;
  /** Waits between attempts; the first attempt is immediate. */
  delaysMs?: readonly number[];
  timeoutMs?: number;
  log?: (fields: Record<string, unknown>, msg: string) => void;
}

const DELAYS_MS = [1_000, 5_000, 30_000, 120_000];

/** Delivers the callback of a job that ended; resolves true once a POST was answered 2xx, false when every attempt failed. */
export async function deliverCallback(job: JobRecord, spec: CallbackSpec, deps: CallbackDeps): Promise<boolean> {
  const body = JSON.stringify(publicJob(job));
  const delays = [0, ...(deps.delaysMs ?? DELAYS_MS)];
  for (const [attempt, delay] of delays.entries()) {
    if (delay) await new Promise((r) => setTimeout(r, delay));
    try {
      // The secret is read at each attempt, so a rotated one is used at once; it never leaves this function.
      const { value } = await deps.secrets.resolve(job.workspace, spec['secret-ref']);
      const url = new URL(spec.url);
      deps.guard.assertUrlAllowed(url);
      const res = await fetchUpstream(
        {
          url,
          method: 'POST',
          headers: { 'content-type': 'application/json', [SIGNATURE_HEADER]: signature(value, Math.floor(Date.now() / 1000), body), 'blobgate-job-id': job.id },
          body,
        },
        { dispatcher: deps.guard.dispatcher, timeoutMs: deps.timeoutMs ?? 30_000, signal: new AbortController().signal },
      );
      res.body.destroy();
      if (res.status >= 200 && res.status < 300) return true;
      deps.log?.({ job: job.id, attempt: attempt + 1, status: res.status }, 'job callback answered outside 2xx');
    } catch (err) {
      deps.log?.({ job: job.id, attempt: attempt + 1, code: err instanceof BlobgateError ? err.code : 'internal' }, 'job callback failed');
    }
  }
  return false;
}
