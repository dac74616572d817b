import { pipeline, Readable, Transform, type TransformCallback } from 'node:stream';
import { createBrotliDecompress, createGunzip, createInflate, createInflateRaw } from 'node:zlib';
import { request, type Dispatcher } from 'undici';
import { BlobgateError } from '../errors.js';
import type { BuiltRequest } from './build-request.js';

export interface UpstreamResponse {
  status: number;
  headers: Record<string, string>;
  /** Decoded body (gzip, deflate and br undone). Its errors are BlobgateErrors. The caller owns it. */
  body: Readable;
  /** Content-Length of the body as decoded bytes, when the upstream announced one and sent no content-encoding. */
  decodedLength?: number;
  url: string;
}

export interface FetchOptions {
  dispatcher: Dispatcher;
  /** Time to response headers, and the longest idle gap between body chunks. */
  timeoutMs: number;
  signal: AbortSignal;
}

/** Performs one upstream request with undici; failures become `upstream_*` BlobgateErrors. */
export async function fetchUpstream(req: BuiltRequest, opts: FetchOptions): Promise<UpstreamResponse> {
  let res: Dispatcher.ResponseData;
  let body: string | Buffer | Readable | null = null;
  let headers = req.headers;
  try {
    if (req.body !== undefined && typeof req.body === 'object' && 'open' in req.body) {
      body = await req.body.open(opts.signal);
      headers = { ...headers, 'content-length': String(req.body.length) };
    } else if (req.body !== undefined) {
      body = req.body;
    }
    res = await request(req.url, {
      method: req.method,
      headers,
      body,
      dispatcher: opts.dispatcher,
      signal: opts.signal,
      headersTimeout: opts.timeoutMs,
      bodyTimeout: opts.timeoutMs,
    });
  } catch (err) {
    if (body instanceof Readable && !body.destroyed) body.destroy();
    throw translateUpstreamError(err, req.url, opts.signal);
  }
  // Errors are read through iteration (translated below); destroying an undici body emits an 'error' nobody else awaits.
  res.body.on('error', noop);
  const resHeaders = flattenHeaders(res.headers);
  const encoding = (resHeaders['content-encoding'] ?? 'identity').trim().toLowerCase();
  const length = resHeaders['content-length'] !== undefined && /^\d+$/.test(resHeaders['content-length']) ? Number(resHeaders['content-length']) : undefined;
  const decoded = decode(res.body, encoding);
  const out = Readable.from(translated(decoded, req.url, opts.signal), { objectMode: false, highWaterMark: 64 * 1024 });
  // Destroying the wrapper must release the socket now, even while the generator awaits a stalled upstream.
  out.once('close', () => {
    if (!decoded.destroyed) decoded.destroy();
    if (!res.body.destroyed) res.body.destroy();
  });
  return {
    status: res.statusCode,
    headers: resHeaders,
    body: out,
    ...(length !== undefined && encoding === 'identity' ? { decodedLength: length } : {}),
    url: req.url.toString(),
  };
}

/** Undoes Content-Encoding. Caps count decoded bytes (docs/seed-contract.md#limits). */
function decode(body: Readable, encoding: string): Readable {
  // pipeline (not pipe) so an error on either side destroys both.
  switch (encoding) {
    case 'identity':
    case '':
      return body;
    case 'gzip':
    case 'x-gzip':
      return pipeline(body, createGunzip(), noop);
    case 'br':
      return pipeline(body, createBrotliDecompress(), noop);
    case 'deflate':
      return pipeline(body, new InflateAnyForm(), noop);
    default:
      body.destroy();
      throw new BlobgateError('response_unparseable', `The upstream sent Content-Encoding "${encoding}", which blobgate cannot decode (gzip, deflate, br).`);
  }
}

/**
 * "deflate" is meant to be zlib-wrapped (RFC 9110 §8.4.1.2) but some servers
 * send raw deflate; the first byte tells which (CMF low nibble 8 = zlib).
 */
class InflateAnyForm extends Transform {
  private inner: Transform | undefined;

  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    if (!this.inner) {
      const inner: Transform = (chunk[0]! & 0x0f) === 8 ? createInflate() : createInflateRaw();
      inner.on('data', (d: Buffer) => this.push(d));
      inner.on('error', (e) => this.destroy(e));
      this.inner = inner;
    }
    this.inner.write(chunk, () => cb());
  }

  override _flush(cb: TransformCallback): void {
    if (!this.inner) return cb();
    this.inner.once('end', () => cb());
    this.inner.end();
  }
}

/** Re-throws body errors as BlobgateErrors, so a driver passes a meaningful source error through. */
async function* translated(source: Readable, url: URL, signal: AbortSignal): AsyncGenerator<Buffer> {
  try {
    for await (const chunk of source) yield chunk as Buffer;
  } catch (err) {
    throw translateUpstreamError(err, url, signal);
  } finally {
    if (!source.destroyed) source.destroy();
  }
}

export function translateUpstreamError(err: unknown, url: URL, signal: AbortSignal): BlobgateError {
  // A refusal by the SSRF guard's lookup reaches us as the socket error, sometimes wrapped.
  for (let e: unknown = err, depth = 0; e && depth < 5; e = (e as { cause?: unknown }).cause, depth++) {
    if (e instanceof BlobgateError) return e;
  }
  if (signal.aborted && signal.reason instanceof BlobgateError) return signal.reason;
  const code = (err as { code?: string }).code ?? '';
  const host = url.host;
  if (signal.aborted) return new BlobgateError('aborted', 'The transfer was aborted before it completed.', undefined, { cause: err });
  if (code === 'UND_ERR_HEADERS_TIMEOUT' || code === 'UND_ERR_BODY_TIMEOUT' || code === 'UND_ERR_CONNECT_TIMEOUT') {
    const what = code === 'UND_ERR_BODY_TIMEOUT' ? 'stalled while sending the body' : 'did not answer';
    return new BlobgateError('upstream_timeout', `The upstream ${host} ${what} within the step timeout; raise request.timeout or check the upstream.`, { host }, { cause: err });
  }
  if (code.startsWith('Z_') || code === 'ERR_BROTLI_INVALID_PARAM' || /^ERR__?(ZLIB|BROTLI)/.test(code)) {
    return new BlobgateError('response_unparseable', `The upstream ${host} sent a body whose compression is corrupt.`, { host }, { cause: err });
  }
  return new BlobgateError('upstream_unreachable', `The upstream ${host} could not be reached or dropped the connection (${describe(code)}).`, { host }, { cause: err });
}

function describe(code: string): string {
  const known: Record<string, string> = {
    ECONNREFUSED: 'connection refused',
    ECONNRESET: 'connection reset',
    ENOTFOUND: 'host name not found',
    EAI_AGAIN: 'DNS lookup failed',
    UND_ERR_SOCKET: 'socket closed',
    UND_ERR_RES_CONTENT_LENGTH_MISMATCH: 'body shorter than its Content-Length',
    ETIMEDOUT: 'connect timed out',
    EHOSTUNREACH: 'host unreachable',
  };
  return known[code] ?? (code || 'network error');
}

function flattenHeaders(raw: Record<string, string | string[] | undefined>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(raw)) {
    if (v === undefined) continue;
    out[k.toLowerCase()] = Array.isArray(v) ? v.join(', ') : v;
  }
  return out;
}

function noop(): void {}
