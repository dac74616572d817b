import { Readable } from 'node:stream';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { BlobgateError } from '../../errors.js';
import type { JobEngine } from '../../jobs/engine.js';
import { isTerminal, publicJob, type JobRecord, type JobState } from '../../jobs/job-record.js';
import { jobListQuery, jobParams } from '../job-schemas.js';
import type { ReadGate } from '../read-gate.js';
import { workspaceParams } from '../schemas.js';

/**
 * The job routes (docs/jobs.md): read, watch, cancel and list the jobs of a
 * workspace. Every answer comes from the job's record in the store, so any
 * replica gives it. The token and its grant of `:ws` are checked before
 * these run (src/http/auth.ts); a job of another workspace is simply not
 * found under this one.
 */
export function jobRoutes(app: FastifyInstance, deps: { jobs: JobEngine; reads: ReadGate }): void {
  app.get<{ Params: { ws: string; id: string } }>('/v1/workspaces/:ws/jobs/:id', { schema: { params: jobParams } }, async (request) => {
    return publicJob(await found(deps.jobs, request.params.ws, request.params.id));
  });

  app.get<{ Params: { ws: string; id: string } }>('/v1/workspaces/:ws/jobs/:id/events', { schema: { params: jobParams } }, async (request, reply) => {
    const { ws, id } = request.params;
    await found(deps.jobs, ws, id);
    // An event stream holds a socket for the job's life: it counts against the read limits.
    const release = deps.reads.take(ws);
    const closed = new AbortController();
    request.raw.once('close', () => closed.abort());
    const stream = Readable.from(events(deps.jobs, ws, id, closed.signal, lastEventId(request)), { objectMode: false });
    stream.once('close', () => {
      closed.abort();
      release();
    });
    return reply
      .header('content-type', 'text/event-stream; charset=utf-8')
      .header('cache-control', 'no-store')
      .header('x-accel-buffering', 'no')
      .send(stream);
  });

  app.delete<{ Params: { ws: string; id: string } }>('/v1/workspaces/:ws/jobs/:id', { schema: { params: jobParams } }, async (request, reply) => {
    const { ws, id } = request.params;
    const job = await deps.jobs.cancel(ws, id);
    if (!job) throw notFound(id);
    // Still running after the wait: the owner has the cancel and will act on it; say so with 202.
    return reply.code(isTerminal(job.state) ? 200 : 202).send(publicJob(job));
  });

  app.get<{ Params: { ws: string }; Querystring: { state?: JobState; limit?: string; cursor?: string } }>(
    '/v1/workspaces/:ws/jobs',
    { schema: { params: workspaceParams, querystring: jobListQuery } },
    async (request) => {
      const { state, limit, cursor } = request.query;
      const page = await deps.jobs.list(request.params.ws, { limit: Math.min(Number(limit ?? 50), 200), ...(state ? { state } : {}), ...(cursor ? { cursor } : {}) });
      return { items: page.items.map(publicJob), ...(page.cursor ? { cursor: page.cursor } : {}) };
    },
  );
}

async function found(jobs: JobEngine, ws: string, id: string): Promise<JobRecord> {
  const job = await jobs.get(ws, id);
  if (!job) throw notFound(id);
  return job;
}

function notFound(id: string): BlobgateError {
  return new BlobgateError('not_found', 'No job with that id in this workspace (a job record goes jobs.retention-seconds after its job ended).', { job: id.slice(0, 128) });
}

/** A `Last-Event-ID` the stream resumes after: the seq of the last event the client saw. */
function lastEventId(request: FastifyRequest): number {
  const raw = request.headers['last-event-id'];
  return typeof raw === 'string' && /^\d{1,15}$/.test(raw) ? Number(raw) : -1;
}

/**
 * Server-sent events of one job: `progress` each time its record changes
 * (about once a heartbeat while it runs), then one `done` with the final
 * job. Each event's id is the record's seq, so `Last-Event-ID` resumes on
 * any replica.
 */
async function* events(jobs: JobEngine, ws: string, id: string, signal: AbortSignal, after: number): AsyncGenerator<string> {
  yield 'retry: 1000\n\n';
  for await (const job of jobs.watch(ws, id, signal, after)) {
    if (isTerminal(job.state)) {
      yield `id: ${job.seq}\nevent: done\ndata: ${JSON.stringify(publicJob(job))}\n\n`;
      return;
    }
    const progress = { id: job.id, state: job.state, bytes: job.bytes, ...(job['total-bytes'] !== undefined ? { 'total-bytes': job['total-bytes'] } : {}), 'bytes-per-second': job['bytes-per-second'], 'updated-at': job['updated-at'] };
    yield `id: ${job.seq}\nevent: progress\ndata: ${JSON.stringify(progress)}\n\n`;
  }
}
