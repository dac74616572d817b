/**
 * A small typed client of blobgate's HTTP API (`import { BlobgateClient } from 'blobgate/client'`),
 * for runners that delegate steps to it. The types are the server's own (the step body it
 * accepts, the results and jobs it answers), so client and server cannot drift; the CLI's job
 * commands use it. README "Typed client".
 */
import type { JobState, PublicJob } from '../jobs/job-record.js';
import type { ListPage } from '../resources/list.js';
import type { ResourceRef } from '../refs/resource-ref.js';
import type { PersistedResult } from '../step/run-step.js';
import type { StepInput } from '../step/seed-shape.js';
import type { InlineResult } from '../upstream/inline.js';

export type { JobState, ListPage, PersistedResult, InlineResult, ResourceRef, StepInput };

/** The body of POST /v1/workspaces/:ws/http, in either shape the gateway accepts, with an optional job callback. */
export type StepRequestBody = StepInput & { callback?: { url: string; 'secret-ref': string } };

/** What a synchronous step answers. */
export type StepResult = (PersistedResult | InlineResult) & { attempts: number };

/** A transfer job (README "Jobs and idempotency"): the server's own shape, with its result typed. */
export type Job = Omit<PublicJob, 'result'> & { result?: StepResult | ResourceRef | { items: ResourceRef[] } };

export interface ApiErrorBody {
  error: { code: string; message: string; details?: Record<string, unknown> };
}

/** An answer outside 2xx: the catalogue code, message and details (README "Error codes"). */
export class BlobgateApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details?: Record<string, unknown>,
  ) {
    super(message);
    this.name = 'BlobgateApiError';
  }
}

export interface ClientOptions {
  /** The gateway's base URL, e.g. http://127.0.0.1:8787 */
  url: string;
  token?: string;
  /** A fetch implementation (default: the global one). */
  fetch?: typeof fetch;
}

export interface JobProgress {
  state: JobState;
  bytes: number;
  'total-bytes'?: number;
  'bytes-per-second': number;
}

export class BlobgateClient {
  private readonly base: string;
  private readonly fetchImpl: typeof fetch;

  constructor(private readonly opts: ClientOptions) {
    this.base = opts.url.replace(/\/+$/, '');
    this.fetchImpl = opts.fetch ?? fetch;
  }

  /** Runs a step and waits for its result. With `idempotencyKey`, a retry gets the first call's answer. */
  runStep(workspace: string, body: StepRequestBody, opts: { idempotencyKey?: string; signal?: AbortSignal } = {}): Promise<StepResult> {
    return this.json('POST', `/v1/workspaces/${enc(workspace)}/http`, { body, headers: key(opts.idempotencyKey), ...(opts.signal ? { signal: opts.signal } : {}) });
  }

  /** Submits a step as a job (Prefer: respond-async); resolves the job at once. */
  submitStep(workspace: string, body: StepRequestBody, opts: { idempotencyKey?: string } = {}): Promise<Job> {
    return this.json('POST', `/v1/workspaces/${enc(workspace)}/http`, { body, headers: { prefer: 'respond-async', ...key(opts.idempotencyKey) } });
  }

  getJob(workspace: string, id: string): Promise<Job> {
    return this.json('GET', jobPath(workspace, id));
  }

  listJobs(workspace: string, query: { state?: JobState; limit?: number; cursor?: string } = {}): Promise<{ items: Job[]; cursor?: string }> {
    return this.json('GET', `/v1/workspaces/${enc(workspace)}/jobs${qs(query)}`);
  }

  /** Cancels a job wherever it runs; resolves the job (cancelled, or as it had ended). */
  cancelJob(workspace: string, id: string): Promise<Job> {
    return this.json('DELETE', jobPath(workspace, id));
  }

  /**
   * Follows a job's server-sent events to its end, calling `onProgress` for
   * each progress event; resumes with Last-Event-ID when the stream breaks.
   * Resolves the final job.
   */
  async watchJob(workspace: string, id: string, opts: { signal?: AbortSignal; onProgress?: (p: JobProgress) => void; maxReconnects?: number } = {}): Promise<Job> {
    let last: string | undefined;
    for (let attempt = 0; attempt <= (opts.maxReconnects ?? 10); attempt++) {
      const res = await this.send('GET', `${jobPath(workspace, id)}/events`, { headers: last ? { 'last-event-id': last } : {}, ...(opts.signal ? { signal: opts.signal } : {}) });
      if (!res.body) break;
      let buffer = '';
      const decoder = new TextDecoder();
      try {
        for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
          buffer += decoder.decode(chunk, { stream: true });
          let cut: number;
          while ((cut = buffer.indexOf('\n\n')) >= 0) {
            const event = parseEvent(buffer.slice(0, cut));
            buffer = buffer.slice(cut + 2);
            if (!event) continue;
            if (event.id) last = event.id;
            if (event.name === 'done') return event.data as Job;
            opts.onProgress?.(event.data as JobProgress);
          }
        }
      } catch (err) {
        if (opts.signal?.aborted) throw err;
        // the stream broke: resume after the last event seen
      }
    }
    return this.getJob(workspace, id);
  }

  /** The descriptor of one resource. */
  getResource(uri: string): Promise<ResourceRef> {
    return this.json('GET', `/v1/resources${qs({ uri })}`);
  }

  /** A signed URL for one resource. */
  signUrl(req: { uri: string; 'ttl-seconds'?: number; download?: boolean; filename?: string }): Promise<{ url: string; 'expires-at': string }> {
    return this.json('POST', '/v1/resources/url', { body: req });
  }

  listResources(workspace: string, query: Record<string, string | number | undefined> = {}): Promise<ListPage> {
    return this.json('GET', `/v1/workspaces/${enc(workspace)}/resources${qs(query)}`);
  }

  async deleteResource(uri: string): Promise<void> {
    await this.json('DELETE', `/v1/resources${qs({ uri })}`);
  }

  /** Uploads one file as the raw body (PUT /v1/workspaces/:ws/uploads/:filename). */
  uploadFile(workspace: string, filename: string, body: Blob | Uint8Array | string, opts: { contentType?: string; tier?: 'retained' | 'ephemeral'; path?: string; slot?: string; idempotencyKey?: string } = {}): Promise<ResourceRef> {
    const query = qs({ tier: opts.tier, path: opts.path, slot: opts.slot });
    return this.json('PUT', `/v1/workspaces/${enc(workspace)}/uploads/${enc(filename)}${query}`, {
      raw: body,
      headers: { 'content-type': opts.contentType ?? 'application/octet-stream', ...key(opts.idempotencyKey) },
    });
  }

  private async json<T>(method: string, path: string, opts: { body?: unknown; raw?: Blob | Uint8Array | string; headers?: Record<string, string>; signal?: AbortSignal } = {}): Promise<T> {
    const res = await this.send(method, path, opts);
    const text = await res.text();
    return (text === '' ? undefined : JSON.parse(text)) as T;
  }

  private async send(method: string, path: string, opts: { body?: unknown; raw?: Blob | Uint8Array | string; headers?: Record<string, string>; signal?: AbortSignal } = {}): Promise<Response> {
    const headers: Record<string, string> = { ...(opts.headers ?? {}) };
    if (this.opts.token) headers.authorization = `Bearer ${this.opts.token}`;
    let body: RequestInit['body'];
    if (opts.body !== undefined) {
      headers['content-type'] = 'application/json';
      body = JSON.stringify(opts.body);
    } else if (opts.raw !== undefined) {
      body = opts.raw as RequestInit['body'];
    }
    const res = await this.fetchImpl(this.base + path, { method, headers, ...(body !== undefined ? { body } : {}), ...(opts.signal ? { signal: opts.signal } : {}) });
    if (res.ok) return res;
    const text = await res.text();
    let parsed: ApiErrorBody | undefined;
    try {
      parsed = JSON.parse(text) as ApiErrorBody;
    } catch {
      // not the catalogue's shape
    }
    if (parsed?.error?.code) throw new BlobgateApiError(res.status, parsed.error.code, parsed.error.message, parsed.error.details);
    throw new BlobgateApiError(res.status, `http_${res.status}`, text.slice(0, 200));
  }
}

const enc = encodeURIComponent;

function jobPath(workspace: string, id: string): string {
  return `/v1/workspaces/${enc(workspace)}/jobs/${enc(id)}`;
}

function key(idempotencyKey: string | undefined): Record<string, string> {
  return idempotencyKey ? { 'idempotency-key': idempotencyKey } : {};
}

function qs(query: Record<string, string | number | boolean | undefined>): string {
  const params = new URLSearchParams();
  for (const [k, v] of Object.entries(query)) if (v !== undefined) params.set(k, String(v));
  const s = params.toString();
  return s ? `?${s}` : '';
}

function parseEvent(block: string): { id?: string; name: string; data: unknown } | undefined {
  let name = 'message';
  let id: string | undefined;
  let data = '';
  for (const line of block.split('\n')) {
    if (line.startsWith('event: ')) name = line.slice(7);
    else if (line.startsWith('id: ')) id = line.slice(4);
    else if (line.startsWith('data: ')) data += line.slice(6);
  }
  if (!data) return undefined;
  return { name, data: JSON.parse(data), ...(id ? { id } : {}) };
}
