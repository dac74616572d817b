// The upstream body's wrappers (fetch.ts's error translation, resumable-body.ts's resume) hand
// chunks on with backpressure: a consumer that stops reading stops the upstream within a few
// MiB (socket buffers and one high-water mark per stage), however large the body. Without it a
// slow store would let the whole body pile up in the gateway's memory.
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { createServer, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Readable } from 'node:stream';
import t from 'tap';
import { Agent } from 'undici';
import type { BuiltRequest } from '../../src/upstream/build-request.js';
import { fetchUpstream } from '../../src/upstream/fetch.js';
import { resumableBody } from '../../src/upstream/resumable-body.js';
import type { RetryPolicy } from '../../src/upstream/retry.js';
import { until } from '../helpers/until.js';

const MiB = 1024 * 1024;
const BODY = 256 * MiB;
const CHUNK = Buffer.alloc(64 * 1024, 0x61);

interface Sender {
  sent: number;
  blocked: boolean;
  closed: boolean;
}
const senders: Sender[] = [];

const server = createServer((req, res) => {
  const sender: Sender = { sent: 0, blocked: false, closed: false };
  senders.push(sender);
  req.socket.once('close', () => (sender.closed = true)); // the connection, not the response: a drained body ends the response too
  const headers: Record<string, string | number> = { 'content-type': 'application/octet-stream', 'content-length': BODY };
  if (req.url === '/ranged') Object.assign(headers, { 'accept-ranges': 'bytes', etag: '"v1"' });
  res.writeHead(200, headers);
  send(res, sender);
});
function send(res: ServerResponse, s: Sender): void {
  while (s.sent < BODY) {
    s.sent += CHUNK.length;
    if (!res.write(CHUNK)) {
      s.blocked = true;
      res.once('drain', () => {
        s.blocked = false;
        send(res, s);
      });
      return;
    }
  }
  res.end();
}
server.on('clientError', () => undefined);
await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
const dispatcher = new Agent();
t.teardown(async () => {
  server.closeAllConnections(); // a request a failed check left stalled would hold dispatcher.close() forever
  await dispatcher.destroy();
  await new Promise((r) => server.close(r));
});

/** Reads `bytes` from the body, then stops reading; answers how far the upstream got once it stood still. */
async function stopAfter(body: Readable, bytes: number, sender: () => Sender): Promise<number> {
  let read = 0;
  while (read < bytes) {
    const chunk = body.read() as Buffer | null;
    if (chunk === null) {
      if (body.readableEnded) throw new Error(`the body ended after ${read} bytes`);
      await once(body, 'readable'); // rejects on the body's error
      continue;
    }
    read += chunk.length;
  }
  // The upstream stands still when it has been blocked on a full socket for half a second in a row,
  // or it has sent the whole body (what the test refuses).
  let last = -1;
  let still = 0;
  await until(
    'the upstream stands still or has sent everything',
    () => {
      const s = sender();
      if (s.sent >= BODY) return true;
      still = s.blocked && s.sent === last ? still + 1 : 0;
      last = s.sent;
      return still >= 25;
    },
    30_000,
  );
  return sender().sent - read;
}

function sysctl(name: string): string {
  try {
    return readFileSync(`/proc/sys/net/ipv4/${name}`, 'utf8').trim().replace(/\s+/g, ' ');
  } catch {
    return 'unknown';
  }
}

const RETRIES: RetryPolicy = { maxAttempts: 3, backoffMs: 1, maxBackoffMs: 1, nonIdempotent: false };

for (const path of ['/plain', '/ranged']) {
  t.test(`a consumer that stops reading stops the upstream (${path.slice(1)})`, async (t) => {
    const req: BuiltRequest = { url: new URL(base + path), method: 'GET', headers: {} };
    const stop = new AbortController();
    const opts = { dispatcher, timeoutMs: 30_000, signal: stop.signal };
    const before = senders.length;
    const first = await fetchUpstream(req, opts);
    const body = path === '/ranged' ? resumableBody(first, req, { used: 1, policy: RETRIES }, (r) => fetchUpstream(r, opts), stop.signal) : first.body;
    if (path === '/ranged') t.not(body, first.body, 'the resumable wrapper is in the path');
    try {
      const ahead = await stopAfter(body, 8 * MiB, () => senders[before]!);
      // Socket buffers bound how far ahead the upstream gets (here `net.ipv4.tcp_rmem` / `tcp_wmem` maxima
      // of a few to a few tens of MiB); without backpressure it sends the whole body.
      t.ok(ahead < BODY / 4, `the upstream got ${(ahead / MiB).toFixed(1)} MiB ahead of the reader (of ${BODY / MiB} MiB; tcp_rmem ${sysctl('tcp_rmem')}, tcp_wmem ${sysctl('tcp_wmem')})`);
    } finally {
      body.destroy();
    }
    await until('destroying the body closes the upstream connection', () => senders[before]!.closed);
    t.ok(senders[before]!.sent < BODY, 'closed mid-body, not drained to the end');
    t.equal(senders.length, before + 1, 'one request: nothing was resumed on the way');
  });
}
