import { randomUUID } from 'node:crypto';
import type { ApiClient } from './client.js';
import { CliError } from './output.js';
import { Progress } from './progress.js';

/** A job as the API shows it (README "Jobs and idempotency"). */
export interface Job {
  id: string;
  state: 'queued' | 'running' | 'succeeded' | 'failed' | 'cancelled' | 'lost';
  bytes: number;
  'total-bytes'?: number;
  'bytes-per-second': number;
  result?: unknown;
  error?: { code: string; message: string };
}

export const jobPath = (ws: string, id: string): string => `/v1/workspaces/${encodeURIComponent(ws)}/jobs/${encodeURIComponent(id)}`;

/** Submits a step as a job; the idempotency key makes a retried submit find the same job. */
export async function submitJob(client: ApiClient, ws: string, body: unknown, key: string = randomUUID()): Promise<Job> {
  const job = await client.json<Job>('POST', `/v1/workspaces/${encodeURIComponent(ws)}/http`, { json: body, headers: { prefer: 'respond-async', 'idempotency-key': key } });
  if (!job?.id) throw new CliError('bad_response', 'the gateway accepted the job but named none.');
  return job;
}

/**
 * Follows a job's events until it ends (or `signal`), drawing the transfer on
 * a progress bar when stderr is a terminal. Resolves the final job; the
 * stream is re-opened with Last-Event-ID when it breaks.
 */
export async function watchJob(client: ApiClient, ws: string, id: string, signal: AbortSignal, label = id): Promise<Job | undefined> {
  let bar: Progress | undefined;
  let shown = 0;
  let last: string | undefined;
  const update = (job: Job): void => {
    if (!bar && job.bytes > 0) bar = Progress.create(label, job['total-bytes']);
    if (bar && job.bytes > shown) {
      bar.add(job.bytes - shown);
      shown = job.bytes;
    }
  };
  for (let reconnects = 0; reconnects < 10 && !signal.aborted; reconnects++) {
    try {
      const res = await client.stream('GET', `${jobPath(ws, id)}/events`, { headers: last ? { 'last-event-id': last } : {}, noHeadersTimeout: true, signal });
      let buffer = '';
      for await (const chunk of res.body) {
        buffer += (chunk as Buffer).toString('utf8');
        let cut: number;
        while ((cut = buffer.indexOf('\n\n')) >= 0) {
          const block = buffer.slice(0, cut);
          buffer = buffer.slice(cut + 2);
          const event = parseEvent(block);
          if (!event) continue;
          if (event.id) last = event.id;
          update(event.job);
          if (event.name === 'done') {
            if (bar) event.job.state === 'succeeded' ? bar.finish() : bar.abort();
            return event.job;
          }
        }
      }
    } catch (err) {
      if (signal.aborted) break;
      if (err instanceof CliError && err.code !== 'connection_lost') throw err;
    }
  }
  bar?.abort();
  return undefined;
}

function parseEvent(block: string): { id?: string; name: string; job: Job } | undefined {
  let name = 'message';
  let id: string | undefined;
  let data = '';
  for (const line of block.split('\n')) {
    if (line.startsWith('event: ')) name = line.slice(7);
    else if (line.startsWith('id: ')) id = line.slice(4);
    else if (line.startsWith('data: ')) data += line.slice(6);
  }
  if (!data) return undefined;
  return { name, job: JSON.parse(data) as Job, ...(id ? { id } : {}) };
}

/** The job's result, or its error as the CLI's error (exit 1). */
export function outcome(job: Job): unknown {
  if (job.state === 'succeeded') return job.result;
  const e = job.error ?? { code: job.state, message: `the job ended ${job.state}.` };
  throw new CliError(e.code, `${e.message} (job ${job.id})`);
}
