import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { brotliCompressSync, deflateRawSync, deflateSync, gzipSync } from 'node:zlib';
import { asciiChunk, patternChunk } from './bytes.js';

/**
 * A real HTTP upstream on 127.0.0.1, port 0, serving deterministic bytes.
 * Routes (query parameters in brackets):
 *   /bytes/<size>[/<name>]  [seed] [chunked=1: no Content-Length] [encoding=gzip|br|deflate|deflate-raw]
 *                           [type=<content-type>] [stall-after=<n>: stop sending after n bytes]
 *                           [drop-after=<n>: destroy the socket after n bytes] [delay-ms]
 *   /json                   a small JSON document
 *   /status/<code>          that status with a short text body
 *   /hang                   never answers
 *   /echo, /<any>/echo      the request (method, url, headers, body) as JSON
 *   /redirect/<status>      that redirect status with Location: <to> (query parameter `to`)
 */
export interface Upstream {
  url: string;
  /** Requests seen, most recent last. */
  requests: Array<{ method: string; url: string; headers: IncomingMessage['headers'] }>;
  /** Sockets currently open to this upstream. */
  openSockets(): number;
  /** Connections ever accepted. */
  connections(): number;
  /** Resolves when the response to the n-th request (1-based) has closed. */
  closed: Array<Promise<{ aborted: boolean }>>;
  stop(): Promise<void>;
}

export async function startUpstream(host = '127.0.0.1'): Promise<Upstream> {
  const requests: Upstream['requests'] = [];
  const closed: Upstream['closed'] = [];
  const sockets = new Set<Socket>();
  let accepted = 0;
  const server: Server = createServer((req, res) => {
    requests.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers });
    closed.push(new Promise((resolve) => res.once('close', () => resolve({ aborted: !res.writableFinished }))));
    handle(req, res).catch((err: unknown) => {
      res.destroy(err as Error);
    });
  });
  server.on('connection', (s) => {
    accepted++;
    sockets.add(s);
    s.once('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(0, host, resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://${host.includes(':') ? `[${host}]` : host}:${port}`,
    requests,
    closed,
    openSockets: () => sockets.size,
    connections: () => accepted,
    stop: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
  const url = new URL(req.url ?? '/', 'http://x');
  const parts = url.pathname.split('/').filter(Boolean);
  const q = url.searchParams;
  if (parts[0] === 'bytes') return sendBytes(res, Number(parts[1]), q);
  if (parts[0] === 'json') {
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify({ ok: true, items: [1, 2, 3], name: 'blobgate' }));
    return;
  }
  if (parts[0] === 'status') {
    res.statusCode = Number(parts[1]);
    res.setHeader('content-type', 'text/plain');
    res.end(`upstream says ${parts[1]}`);
    return;
  }
  if (parts[0] === 'hang') return; // never answers
  if (parts[0] === 'redirect') {
    for await (const _ of req) void _; // drain any body
    res.statusCode = Number(parts[1]);
    res.setHeader('location', q.get('to') ?? '/');
    res.end();
    return;
  }
  if (parts.at(-1) === 'echo') {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify({ method: req.method, url: req.url, headers: req.headers, body: Buffer.concat(chunks).toString('utf8') }));
    return;
  }
  res.statusCode = 404;
  res.end('no such route');
}

async function sendBytes(res: ServerResponse, size: number, q: URLSearchParams): Promise<void> {
  const seed = Number(q.get('seed') ?? 7);
  const chunkOf = q.get('ascii') ? asciiChunk : (off: number, n: number) => patternChunk(off, n, seed);
  const encoding = q.get('encoding');
  res.setHeader('content-type', q.get('type') ?? 'application/octet-stream');
  if (q.get('delay-ms')) await sleep(Number(q.get('delay-ms')));
  if (encoding) {
    // Encoded bodies are small in tests; compress whole.
    const raw = chunkOf(0, size);
    const encoders: Record<string, (b: Buffer) => Buffer> = { gzip: gzipSync, br: brotliCompressSync, deflate: deflateSync, 'deflate-raw': deflateRawSync };
    const encoded = encoders[encoding]?.(raw);
    if (!encoded) throw new Error(`unknown encoding ${encoding}`);
    res.setHeader('content-encoding', encoding === 'deflate-raw' ? 'deflate' : encoding);
    if (!q.get('chunked')) res.setHeader('content-length', encoded.length);
    res.end(encoded);
    return;
  }
  if (!q.get('chunked')) res.setHeader('content-length', size);
  const stallAfter = q.get('stall-after') === null ? undefined : Number(q.get('stall-after'));
  const dropAfter = q.get('drop-after') === null ? undefined : Number(q.get('drop-after'));
  const step = 256 * 1024;
  for (let off = 0; off < size; ) {
    const limit = Math.min(stallAfter ?? Infinity, dropAfter ?? Infinity);
    if (off >= limit) {
      if (dropAfter !== undefined && off >= dropAfter) res.destroy();
      return; // stall: keep the socket open, send nothing more
    }
    const n = Math.min(step, size - off, limit - off);
    const ok = res.write(chunkOf(off, n));
    off += n;
    if (!ok) await drainOrClose(res);
    if (res.destroyed) return;
  }
  res.end();
}

/** Waits for 'drain', or for the socket to close (the client went away). */
function drainOrClose(res: ServerResponse): Promise<void> {
  if (res.destroyed) return Promise.resolve();
  return new Promise<void>((resolve) => {
    const done = (): void => {
      res.off('drain', done);
      res.off('close', done);
      resolve();
    };
    res.on('drain', done);
    res.on('close', done);
  });
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
