import { randomUUID } from 'node:crypto';
import { BlobgateApiError, BlobgateClient, type Job, type StepRequestBody } from '../client/index.js';
import { type ApiClient, unreachable } from './client.js';
import { CliError } from './output.js';
import { Progress } from './progress.js';

export type { Job };

/** The typed client (src/client/) for the CLI's endpoint; its failures become the CLI's one-line errors. */
export function typedClient(api: ApiClient): BlobgateClient {
  return new BlobgateClient({ url: api.endpoint.url, ...(api.endpoint.token ? { token: api.endpoint.token } : {}) });
}

/** Runs `call`, turning the client's errors into CliErrors (exit 1). */
export async function cli<T>(api: ApiClient, call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (err) {
    if (err instanceof BlobgateApiError) throw new CliError(err.code, err.message, err.details);
    if (err instanceof TypeError && /fetch failed/.test(err.message)) throw unreachable(api.endpoint.url, err.cause ?? err);
    throw err;
  }
}

/** Submits a step as a job; the idempotency key makes a retried submit find the same job. */
export async function submitJob(api: ApiClient, ws: string, body: StepRequestBody, key: string = randomUUID()): Promise<Job> {
  return cli(api, () => typedClient(api).submitStep(ws, body, { idempotencyKey: key }));
}

/**
 * Follows a job's events until it ends (or `signal`), drawing the transfer on
 * a progress bar when stderr is a terminal. Resolves the final job, or
 * undefined when `signal` fired first.
 */
export async function watchJob(api: ApiClient, ws: string, id: string, signal: AbortSignal, label = id): Promise<Job | undefined> {
  let bar: Progress | undefined;
  let shown = 0;
  try {
    const final = await cli(api, () =>
      typedClient(api).watchJob(ws, id, {
        signal,
        onProgress: (p) => {
          if (!bar && p.bytes > 0) bar = Progress.create(label, p['total-bytes']);
          if (bar && p.bytes > shown) {
            bar.add(p.bytes - shown);
            shown = p.bytes;
          }
        },
      }),
    );
    if (bar && final.bytes > shown) bar.add(final.bytes - shown);
    if (bar) final.state === 'succeeded' ? bar.finish() : bar.abort();
    return final;
  } catch (err) {
    bar?.abort();
    if (signal.aborted) return undefined;
    throw err;
  }
}

/** The job's result, or its error as the CLI's error (exit 1). */
export function outcome(job: Job): unknown {
  if (job.state === 'succeeded') return job.result;
  const e = job.error ?? { code: job.state, message: `the job ended ${job.state}.` };
  throw new CliError(e.code, `${e.message} (job ${job.id})`);
}
