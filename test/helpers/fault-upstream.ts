import { createServer, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { patternChunk } from './bytes.js';

/**
 * An upstream that misbehaves on purpose, per resource id, for the first
 * `faults` attempts (default 1), then serves correctly:
 *   GET /f/<id>/<size>?fault=reset&at=N     destroy the socket after N bytes
 *                      fault=stall&at=N     stop sending after N bytes (socket open)
 *                      fault=short&at=N     announce <size> but end cleanly after N bytes
 *                      fault=status&status=503&retry-after=S
 *                      ranges=1             Accept-Ranges + strong ETag; honours Range / If-Range
 *                      etag-change=1        a new ETag on every attempt (a resume's If-Range fails → 200)
 * Bytes are patternChunk(offset), so any range is consistent with the whole.
 */
export interface FaultUpstream {
  url: string;
  /** Per id: the Range header of each request (undefined for a whole request). */
  ranges(id: string): Array<string | undefined>;
  /** Per id: the Authorization header of each request. */
  authorizations(id: string): Array<string | undefined>;
  attempts(id: string): number;
  stop(): Promise<void>;
}

export async function startFaultUpstream(): Promise<FaultUpstream> {
  const seen = new Map<string, Array<string | undefined>>();
  const auths = new Map<string, Array<string | undefined>>();
  const sockets = new Set<Socket>();
  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    const [, kind, id = '', sizeText = '0'] = url.pathname.split('/');
    if (kind !== 'f') {
      res.statusCode = 404;
      return res.end();
    }
    const q = url.searchParams;
    const list = seen.get(id) ?? [];
    list.push(req.headers.range);
    seen.set(id, list);
    auths.set(id, [...(auths.get(id) ?? []), req.headers.authorization]);
    const attempt = list.length;
    const faulty = attempt <= Number(q.get('faults') ?? 1);
    const size = Number(sizeText);
    const etag = `"v${q.get('etag-change') ? attempt : 1}"`;
    if (faulty && q.get('fault') === 'status') {
      res.statusCode = Number(q.get('status') ?? 503);
      if (q.get('retry-after')) res.setHeader('retry-after', q.get('retry-after')!);
      return res.end('try later');
    }
    res.setHeader('content-type', 'application/octet-stream');
    if (q.get('ranges')) {
      res.setHeader('accept-ranges', 'bytes');
      res.setHeader('etag', etag);
    }
    let start = 0;
    const range = /^bytes=(\d+)-$/.exec(req.headers.range ?? '');
    const ifRange = req.headers['if-range'];
    if (q.get('ranges') && range && (ifRange === undefined || ifRange === etag)) {
      start = Number(range[1]);
      res.statusCode = 206;
      res.setHeader('content-range', `bytes ${start}-${size - 1}/${size}`);
    }
    res.setHeader('content-length', size - start);
    const at = Number(q.get('at') ?? size);
    void send(res, start, size, faulty ? (q.get('fault') ?? undefined) : undefined, at);
  });
  server.on('connection', (s) => {
    sockets.add(s);
    s.once('close', () => sockets.delete(s));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    ranges: (id) => seen.get(id) ?? [],
    authorizations: (id) => auths.get(id) ?? [],
    attempts: (id) => seen.get(id)?.length ?? 0,
    stop: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}

async function send(res: ServerResponse, start: number, size: number, fault: string | undefined, at: number): Promise<void> {
  const step = 64 * 1024;
  for (let off = start; off < size; ) {
    if (fault !== undefined && off >= at) {
      if (fault === 'reset') res.destroy();
      if (fault === 'short') res.socket?.end(); // ends the connection cleanly, fewer bytes than announced
      return; // stall: keep the socket open, send nothing more
    }
    const n = Math.min(step, size - off, fault !== undefined ? Math.max(1, at - off) : Infinity);
    const ok = res.write(patternChunk(off, n));
    off += n;
    if (!ok) await new Promise<void>((r) => {
      const done = (): void => {
        res.off('drain', done);
        res.off('close', done);
        r();
      };
      res.on('drain', done);
      res.on('close', done);
    });
    if (res.destroyed) return;
  }
  res.end();
}
