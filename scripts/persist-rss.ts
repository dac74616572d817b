/**
 * Measures the gateway's memory while moving one large body:
 *   npm run measure:rss -- [bytes=1073741824] [tier=ephemeral] [mode=persist|upload|body-from-ref]
 *   persist        an HTTP step persists an upstream response of `bytes`
 *   upload         a raw PUT upload of `bytes` into the retained tier
 *   body-from-ref  a stored blob of `bytes` (in `tier`) sent upstream as a request body
 * Starts a deterministic upstream on 127.0.0.1 and the built gateway
 * (dist/main.js, with the flags `npm start` gives it) as a child process on
 * the embedded local store, persists one response of the given size,
 * verifies its sha256, and prints the child's idle RSS, peak RSS (VmHWM from
 * /proc) and throughput. Linux only (reads /proc).
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer, type AddressInfo } from 'node:net';
import { createServer as createHttpServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GATEWAY_NODE_FLAGS, gatewayEnv } from '../src/node-flags.js';

const size = Number(process.argv[2] ?? 1024 ** 3);
const tier = process.argv[3] ?? 'ephemeral';
const mode = process.argv[4] ?? 'persist';
const CHUNK = 1024 * 1024;
const block = Buffer.alloc(CHUNK);
for (let i = 0; i < CHUNK; i++) block[i] = (i * 31 + 7) & 0xff;

function expectedSha256(n: number): string {
  const h = createHash('sha256');
  for (let off = 0; off < n; off += CHUNK) h.update(block.subarray(0, Math.min(CHUNK, n - off)));
  return h.digest('hex');
}

async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const { port } = s.address() as AddressInfo;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

async function procStatus(pid: number): Promise<{ rss: number; hwm: number }> {
  const text = await readFile(`/proc/${pid}/status`, 'utf8');
  const kib = (name: string) => Number(new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(text)?.[1] ?? 0) * 1024;
  return { rss: kib('VmRSS'), hwm: kib('VmHWM') };
}

let received = { size: 0, sha256: '' };
const upstream = createHttpServer((req, res) => {
  if (req.method === 'POST') {
    const h = createHash('sha256');
    let n = 0;
    req.on('data', (c: Buffer) => {
      n += c.length;
      h.update(c);
    });
    req.on('end', () => {
      received = { size: n, sha256: h.digest('hex') };
      res.end('{}');
    });
    return;
  }
  res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': size });
  let sent = 0;
  const pump = (): void => {
    while (sent < size) {
      const n = Math.min(CHUNK, size - sent);
      sent += n;
      if (!res.write(block.subarray(0, n))) return void res.once('drain', pump);
    }
    res.end();
  };
  pump();
});
await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', r));
const upstreamPort = (upstream.address() as AddressInfo).port;

const dataDir = await mkdtemp(join(tmpdir(), 'bg-rss-'));
const port = await freePort();
const token = 'measure-rss-token-0123456789';
const child = spawn(process.execPath, [...GATEWAY_NODE_FLAGS, 'dist/main.js'], {
  env: gatewayEnv({ PATH: process.env.PATH, BLOBGATE_DATA_DIR: dataDir, BLOBGATE_PORT: String(port), BLOBGATE_TOKEN: token, BLOBGATE_LOG_LEVEL: 'warn', BLOBGATE_UPSTREAM_ALLOW: '127.0.0.1' }),
  stdio: ['ignore', 'inherit', 'inherit'],
});
const base = `http://127.0.0.1:${port}`;
for (let i = 0; i < 200; i++) {
  try {
    if ((await fetch(`${base}/healthz`)).ok) break;
  } catch {
    await new Promise((r) => setTimeout(r, 50));
  }
}
const auth = { authorization: `Bearer ${token}` };
const stepCall = (body: unknown) =>
  fetch(`${base}/v1/workspaces/ws-bench/http`, { method: 'POST', headers: { ...auth, 'content-type': 'application/json' }, body: JSON.stringify(body) });
let source: { uri: string } | undefined;
if (mode === 'body-from-ref') {
  // The blob to send is stored first; only the send is measured.
  const stored = await stepCall({ 'flow-slug': 'bench', 'step-id': 'src', request: { url: `http://127.0.0.1:${upstreamPort}/src.bin` }, persist: { type: 'blob', tier } });
  source = (await stored.json()) as { uri: string };
}
// Reset the peak (VmHWM) so it covers the measured transfer only (Linux: "5" to clear_refs).
await writeFile(`/proc/${child.pid}/clear_refs`, '5').catch(() => undefined);
const idle = await procStatus(child.pid!);
const started = process.hrtime.bigint();
let res: Response;
if (mode === 'upload') {
  const { Readable } = await import('node:stream');
  const body = Readable.from(
    (function* () {
      for (let off = 0; off < size; off += CHUNK) yield block.subarray(0, Math.min(CHUNK, size - off));
    })(),
  );
  res = await fetch(`${base}/v1/workspaces/ws-bench/uploads/big.bin`, { method: 'PUT', headers: { ...auth, 'content-length': String(size) }, body: body as unknown as ReadableStream, duplex: 'half' } as RequestInit);
} else if (mode === 'body-from-ref') {
  res = await stepCall({ 'flow-slug': 'bench', 'step-id': 'send', request: { url: `http://127.0.0.1:${upstreamPort}/sink`, method: 'post', 'body-from-ref': source, timeout: 600 } });
} else {
  res = await stepCall({ 'flow-slug': 'bench', 'step-id': 'rss', request: { url: `http://127.0.0.1:${upstreamPort}/big.bin`, timeout: 600 }, persist: { type: 'blob', tier } });
}
const seconds = Number(process.hrtime.bigint() - started) / 1e9;
const ref = (await res.json()) as { 'blob-ref'?: { size: number; sha256: string }; error?: unknown };
const after = await procStatus(child.pid!);
const expected = expectedSha256(size);
const ok =
  mode === 'body-from-ref'
    ? res.status === 200 && received.size === size && received.sha256 === expected
    : (res.status === 200 || res.status === 201) && ref['blob-ref']?.size === size && ref['blob-ref']?.sha256 === expected;
child.kill('SIGTERM');
upstream.close();
await rm(dataDir, { recursive: true, force: true });

const mib = (n: number) => (n / 1024 / 1024).toFixed(1);
console.log(
  JSON.stringify(
    {
      mode,
      bytes: size,
      tier: mode === 'upload' ? 'retained' : tier,
      verified: ok,
      status: res.status,
      'idle-rss-mib': mib(idle.rss),
      'peak-rss-mib': mib(after.hwm),
      'peak-minus-idle-mib': mib(after.hwm - idle.rss),
      seconds: Number(seconds.toFixed(2)),
      'mib-per-s': Number((size / 1024 / 1024 / seconds).toFixed(1)),
      node: process.version,
    },
    null,
    2,
  ),
);
if (!ok) {
  console.error('transfer failed or bytes differ:', JSON.stringify(ref).slice(0, 500));
  process.exit(1);
}
