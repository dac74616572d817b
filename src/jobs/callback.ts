import { createHmac } from 'node:crypto';
import pLimit, { type LimitFunction } from 'p-limit';
import { BlobgateError } from '../errors.js';
import { isCredentialQueryParam } from '../secrets/credential-names.js';
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
  // A credential in the URL would be kept in the job's record and shown with the job: secrets come only by reference.
  if (url.username !== '' || url.password !== '' || [...url.searchParams.keys()].some(isCredentialQueryParam)) {
    throw new BlobgateError('inline_secret_rejected', 'callback.url holds a credential (user:password@ or a credential query parameter); remove it: the receiver authenticates the POST by its Blobgate-Signature, made with the secret secret-ref names.', { field: 'callback.url' });
  }
  guard.assertUrlAllowed(url);
  await secrets.resolve(workspace, spec['secret-ref']);
}

export function signature(secret: string, timestamp: number, body: string): string {
  return `t=${timestamp},v1=${createHmac('sha256', secret).update(`${timestamp}.${body}`, 'utf8').digest('hex')}`;
}

/**
 * Most callback POSTs of one workspace in flight at once. Jobs end as fast as
 * their transfers, and a receiver that never answers holds each POST for its
 * timeout: without a bound, one workspace's tarpit would hold a socket per
 * job it ever ran. The rest wait their turn (an attempt's backoff holds no place).
 */
export const CALLBACKS_PER_WORKSPACE = 4;

/** The per-workspace turns of callback attempts; one per job engine. */
export class CallbackLanes {
  private readonly lanes = new Map<string, { limit: LimitFunction; users: number }>();

  constructor(private readonly perWorkspace = CALLBACKS_PER_WORKSPACE) {}

  async run<T>(workspace: string, fn: () => Promise<T>): Promise<T> {
    let lane = this.lanes.get(workspace);
    if (!lane) this.lanes.set(workspace, (lane = { limit: pLimit(this.perWorkspace), users: 0 }));
    lane.users++;
    try {
      return await lane.limit(fn);
    } finally {
      // A workspace with nothing waiting is forgotten, so the map holds only workspaces with callbacks under way.
      if (--lane.users === 0) this.lanes.delete(workspace);
    }
  }
}

export interface CallbackDeps {
  guard: UpstreamGuard;
  secrets: SecretsProvider;
  /** Whose turn an attempt waits for; without it, attempts are not bounded. */
  lanes?: CallbackLanes;
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
    const post = async (): Promise<number> => {
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
      return res.status;
    };
    try {
      const status = await (deps.lanes ? deps.lanes.run(job.workspace, post) : post());
      if (status >= 200 && status < 300) return true;
      deps.log?.({ job: job.id, attempt: attempt + 1, status }, 'job callback answered outside 2xx');
    } catch (err) {
      deps.log?.({ job: job.id, attempt: attempt + 1, code: err instanceof BlobgateError ? err.code : 'internal' }, 'job callback failed');
    }
  }
  return false;
}
