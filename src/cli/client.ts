import type { Readable } from 'node:stream';
import { CliError } from './output.js';

/**
 * The HTTP API client of the CLI: one place that knows the base URL, the
 * bearer token and the error shape `{"error": {code, message, details}}`.
 * Streams stay streams: `stream()` hands the response body over unread.
 */

export const DEFAULT_URL = 'http://127.0.0.1:8787';

export interface Endpoint {
  url: string;
  token?: string;
}

/** Flags win over the environment, which wins over the default. */
export function resolveEndpoint(flags: { url?: string; token?: string }, env: NodeJS.ProcessEnv = process.env): Endpoint {
  const url = flags.url ?? (env.BLOBGATE_URL || DEFAULT_URL);
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new CliError('invalid_url', `${JSON.stringify(url)} is not a URL; set --url or BLOBGATE_URL to e.g. ${DEFAULT_URL}.`, undefined, 2);
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
    throw new CliError('invalid_url', `the gateway URL must be http or https; got ${JSON.stringify(url)}.`, undefined, 2);
  }
  const token = flags.token ?? (env.BLOBGATE_TOKEN || undefined);
  return { url: url.replace(/\/+$/, ''), ...(token ? { token } : {}) };
}

export interface CallOptions {
  query?: Record<string, string | number | boolean | undefined>;
  /** A JSON body (sets content-type). */
  json?: unknown;
  /** A raw body streamed as is; give `headers['content-length']` with it. */
  body?: Readable;
  headers?: Record<string, string>;
  /** The gateway answers a persist only after the whole body is stored: no header deadline then. */
  noHeadersTimeout?: boolean;
  signal?: AbortSignal;
}

export interface StreamResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Readable;
}

export class ApiClient {
  constructor(readonly endpoint: Endpoint) {}

  /** A request whose 2xx answer is JSON (or empty: 204). Non-2xx becomes a CliError with the API's code. */
  async json<T = unknown>(method: string, path: string, opts: CallOptions = {}): Promise<T | undefined> {
    const res = await this.stream(method, path, opts);
    const text = await res.body.text().catch((err: unknown) => {
      throw connectionLost(this.endpoint.url, err);
    });
    if (text === '') return undefined;
    try {
      return JSON.parse(text) as T;
    } catch {
      throw new CliError('bad_response', `the gateway answered ${res.status} with a body that is not JSON: ${excerpt(text)}`);
    }
  }

  /** A request whose 2xx body is handed over unread (the caller must consume or destroy it). */
  async stream(method: string, path: string, opts: CallOptions = {}): Promise<StreamResponse & { body: Readable & { text(): Promise<string> } }> {
    const url = new URL(this.endpoint.url + path);
    for (const [k, v] of Object.entries(opts.query ?? {})) if (v !== undefined) url.searchParams.set(k, String(v));
    const headers: Record<string, string> = { ...(opts.headers ?? {}) };
    if (this.endpoint.token) headers.authorization = `Bearer ${this.endpoint.token}`;
    let body: string | Readable | undefined = opts.body;
    if (opts.json !== undefined) {
      headers['content-type'] = 'application/json';
      body = JSON.stringify(opts.json);
    }
    // undici loads on first use: --help and usage errors stay quick.
    const { request } = await import('undici');
    let res;
    try {
      res = await request(url, {
        method: method as 'GET',
        headers,
        ...(body !== undefined ? { body } : {}),
        ...(opts.noHeadersTimeout ? { headersTimeout: 0 } : {}),
        ...(opts.signal ? { signal: opts.signal } : {}),
      });
    } catch (err) {
      if (opts.signal?.aborted) throw err;
      if (isConnectError(err)) throw unreachable(this.endpoint.url, err);
      // Connected, then the connection broke: during an upload that is most often the gateway
      // refusing the body early (cap, auth) and closing the socket before its answer was read.
      throw connectionLost(this.endpoint.url, err, opts.body ? 'upload' : undefined);
    }
    if (res.statusCode >= 200 && res.statusCode < 300) {
      return { status: res.statusCode, headers: res.headers, body: res.body };
    }
    const text = await readBounded(res.body, 64 * 1024).catch(() => '');
    throw apiError(res.statusCode, text);
  }
}

/** The API's error shape becomes `<code>: <message>`; anything else `http_<status>` with an excerpt. */
export function apiError(status: number, text: string): CliError {
  try {
    const parsed = JSON.parse(text) as { error?: { code?: unknown; message?: unknown; details?: unknown } };
    const e = parsed.error;
    if (e && typeof e.code === 'string' && typeof e.message === 'string') {
      const details = e.details && typeof e.details === 'object' ? (e.details as Record<string, unknown>) : undefined;
      return new CliError(e.code, e.message, details);
    }
  } catch {
    // not the API's error shape
  }
  return new CliError(`http_${status}`, `the gateway answered ${status}${text ? `: ${excerpt(text)}` : ''}`);
}

const NETWORK_HINT = 'is the gateway running? Set --url or BLOBGATE_URL.';

function errCode(err: unknown): string {
  const e = err as { code?: unknown; cause?: { code?: unknown } } | undefined;
  if (typeof e?.code === 'string') return e.code;
  if (typeof e?.cause?.code === 'string') return e.cause.code;
  return err instanceof Error ? err.message : String(err);
}

export function unreachable(base: string, err: unknown): CliError {
  return new CliError('unreachable', `cannot reach ${base} (${errCode(err)}); ${NETWORK_HINT}`);
}

/** Errors of the connect phase: nothing reached the gateway. */
const CONNECT_CODES = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH', 'EADDRNOTAVAIL', 'UND_ERR_CONNECT_TIMEOUT']);

function isConnectError(err: unknown): boolean {
  return CONNECT_CODES.has(errCode(err));
}

export function connectionLost(base: string, err: unknown, during?: 'upload'): CliError {
  if (err instanceof CliError) return err;
  if (during === 'upload') {
    return new CliError(
      'unreachable',
      `the connection to ${base} broke while the file was being sent (${errCode(err)}); the gateway may have refused it before reading it all (for example a file over the tier's write cap).`,
    );
  }
  return new CliError('unreachable', `the connection to ${base} broke mid-transfer (${errCode(err)}).`);
}

async function readBounded(body: Readable, max: number): Promise<string> {
  const parts: Buffer[] = [];
  let size = 0;
  for await (const chunk of body) {
    const buf = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk as Uint8Array);
    if (size < max) parts.push(buf.subarray(0, max - size));
    size += buf.length;
    if (size >= max) {
      body.destroy();
      break;
    }
  }
  return Buffer.concat(parts).toString('utf8');
}

function excerpt(text: string): string {
  const one = text.replace(/\s+/g, ' ').trim();
  return one.length > 200 ? `${one.slice(0, 200)}…` : one;
}
