import { createServer, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { brotliCompressSync, constants, gzipSync } from 'node:zlib';
import { patternChunk } from '../helpers/bytes.js';

/**
 * The upstream of the hostile-tenant suite, on 127.0.0.1 port 0. Every answer
 * closes its connection, so no keep-alive socket of the gateway's upstream
 * pool is mistaken for a leaked descriptor. Routes:
 *   /bytes/<size>?seed=    deterministic bytes (test/helpers/bytes.ts)
 *   /stall/<id>            64 KiB, then nothing until the gateway leaves; `arrived(id)` resolves on the request
 *   /finish/<id>           256 KiB; `finished(id)` resolves once the last byte is handed to the socket
 *   /trickle               40 × 1 KiB, 25 ms apart
 *   /early                 answers {"early": true} at once, without reading the request body
 *   /deep-json             an array nested 20,000 levels deep
 *   /gzip-bomb, /br-bomb   64 MiB of zeros, compressed to a few KiB
 */
export interface HostileUpstream {
  url: string;
  arrived(id: string): Promise<void>;
  finished(id: string): Promise<void>;
  stop(): Promise<void>;
}

const BOMB_BYTES = 64 * 1024 * 1024;

export async function startHostileUpstream(): Promise<HostileUpstream> {
  // gzip members concatenate (RFC 1952 §2.2): one 4 MiB member sixteen times is a 64 MiB body.
  const gzipMember = gzipSync(Buffer.alloc(4 * 1024 * 1024), { level: 9 });
  const gzipBomb = Buffer.concat(Array.from({ length: BOMB_BYTES / (4 * 1024 * 1024) }, () => gzipMember));
  const brBomb = brotliCompressSync(Buffer.alloc(BOMB_BYTES), { params: { [constants.BROTLI_PARAM_QUALITY]: 5 } });
  const deepJson = '['.repeat(20_000) + ']'.repeat(20_000);
  const waiters = new Map<string, { promise: Promise<void>; resolve: () => void }>();
  const waiter = (key: string) => {
    let w = waiters.get(key);
    if (!w) {
      let resolve = (): void => undefined;
      const promise = new Promise<void>((r) => (resolve = r));
      w = { promise, resolve };
      waiters.set(key, w);
    }
    return w;
  };
  const sockets = new Set<Socket>();
  const server = createServer((req, res) => {
    res.setHeader('connection', 'close');
    const [, route = '', arg = ''] = (req.url ?? '').split('?')[0]!.split('/');
    if (route === 'early') {
      res.setHeader('content-type', 'application/json');
      return res.end('{"early": true}', () => req.socket.destroy());
    }
    req.resume();
    const seed = Number(new URL(req.url ?? '/', 'http://x').searchParams.get('seed') ?? 7);
    switch (route) {
      case 'bytes':
        return sendPattern(res, Number(arg), seed);
      case 'stall':
        waiter(`arrived:${arg}`).resolve();
        res.setHeader('content-type', 'application/octet-stream');
        res.setHeader('content-length', String(2 * 1024 * 1024)); // under every cap: only the stall stops it
        res.write(patternChunk(0, 64 * 1024));
        return; // nothing more: the gateway leaves when its client does
      case 'finish':
        res.once('finish', () => waiter(`finished:${arg}`).resolve());
        return sendPattern(res, 256 * 1024, 3);
      case 'trickle':
        return void trickle(res);
      case 'deep-json':
        res.setHeader('content-type', 'application/json');
        return res.end(deepJson);
      case 'gzip-bomb':
      case 'br-bomb':
        res.setHeader('content-type', 'application/octet-stream');
        res.setHeader('content-encoding', route === 'gzip-bomb' ? 'gzip' : 'br');
        return res.end(route === 'gzip-bomb' ? gzipBomb : brBomb);
    }
    res.statusCode = 404;
    res.end();
  });
  server.on('connection', (s) => {
    sockets.add(s);
    s.once('close', () => sockets.delete(s));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    arrived: (id) => waiter(`arrived:${id}`).promise,
    finished: (id) => waiter(`finished:${id}`).promise,
    stop: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}

function sendPattern(res: ServerResponse, size: number, seed: number): void {
  res.setHeader('content-type', 'application/octet-stream');
  res.setHeader('content-length', String(size));
  res.end(patternChunk(0, size, seed));
}

async function trickle(res: ServerResponse): Promise<void> {
  res.setHeader('content-type', 'application/octet-stream');
  res.setHeader('content-length', String(40 * 1024));
  for (let i = 0; i < 40 && !res.destroyed; i++) {
    res.write(patternChunk(i * 1024, 1024, 5));
    await new Promise((r) => setTimeout(r, 25));
  }
  res.end();
}
