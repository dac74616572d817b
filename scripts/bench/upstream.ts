/**
 * The benchmark's upstream: an HTTP server on 127.0.0.1 serving deterministic
 * bytes at `GET /bytes/<size>/<name>` with a Content-Length.
 *
 * The bytes are position dependent, not a repeated block: every 4 KiB page
 * starts with its own offset (8 bytes, big-endian), so a transfer that drops,
 * repeats or reorders pages cannot reproduce the sha256. Blocks are built
 * from one precomputed 1 MiB pattern (a copy and 256 stamps per MiB), so the
 * upstream costs little CPU next to the tools it feeds.
 */
import { createHash } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

const BLOCK = 1024 * 1024;
const PAGE = 4096;
const base = Buffer.alloc(BLOCK);
for (let i = 0; i < BLOCK; i++) base[i] = (i * 31 + 7 + (i >>> 8) * 13) & 0xff;

/** Bytes [blockIndex·1 MiB, +length) of the stream (length ≤ 1 MiB). */
export function block(blockIndex: number, length = BLOCK): Buffer {
  const out = Buffer.allocUnsafe(length);
  base.copy(out, 0, 0, length);
  const start = blockIndex * BLOCK;
  for (let p = 0; p + 8 <= length; p += PAGE) out.writeBigUInt64BE(BigInt(start + p), p);
  return out;
}

function* blocks(size: number): Generator<Buffer> {
  for (let i = 0; i * BLOCK < size; i++) yield block(i, Math.min(BLOCK, size - i * BLOCK));
}

const shaCache = new Map<number, string>();
const md5Cache = new Map<number, string>();

/** sha256 (hex) of the first `size` bytes; computed once per size. */
export function expectedSha256(size: number): string {
  let v = shaCache.get(size);
  if (v === undefined) {
    const h = createHash('sha256');
    for (const b of blocks(size)) h.update(b);
    v = h.digest('hex');
    shaCache.set(size, v);
  }
  return v;
}

/** md5 (hex) of the first `size` bytes (an S3 single-part ETag). */
export function expectedMd5(size: number): string {
  let v = md5Cache.get(size);
  if (v === undefined) {
    const h = createHash('md5');
    for (const b of blocks(size)) h.update(b);
    v = h.digest('hex');
    md5Cache.set(size, v);
  }
  return v;
}

export interface Upstream {
  /** `http://127.0.0.1:PORT` */
  url: string;
  /** URL of `size` bytes named `name`. */
  bytesUrl(size: number, name?: string): string;
  /** Responses started so far (all paths). */
  readonly served: number;
  stop(): Promise<void>;
}

export async function startUpstream(): Promise<Upstream> {
  let served = 0;
  const small = new Map<number, Buffer>();
  const server: Server = createServer((req, res) => {
    const m = /^\/bytes\/(\d+)(?:\/[^?]*)?$/.exec(req.url ?? '');
    if (req.method !== 'GET' || !m) {
      res.writeHead(404).end();
      return;
    }
    served++;
    const size = Number(m[1]);
    res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': size });
    if (size <= 64 * 1024) {
      // Small bodies (the small-object test): one cached buffer, one write.
      let body = small.get(size);
      if (!body) small.set(size, (body = block(0, size)));
      res.end(body);
      return;
    }
    const it = blocks(size);
    const pump = (): void => {
      for (;;) {
        const next = it.next();
        if (next.done) return void res.end();
        if (!res.write(next.value)) return void res.once('drain', pump);
      }
    };
    res.on('close', () => void it.return(undefined));
    pump();
  });
  server.keepAliveTimeout = 60_000;
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url,
    bytesUrl: (size, name = 'data.bin') => `${url}/bytes/${size}/${encodeURIComponent(name)}`,
    get served() {
      return served;
    },
    stop: () =>
      new Promise<void>((r) => {
        server.close(() => r());
        server.closeAllConnections();
      }),
  };
}
