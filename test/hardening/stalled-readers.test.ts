import { readdir, readlink } from 'node:fs/promises';
import { connect, type Socket } from 'node:net';
import t from 'tap';
import { startGateway, TOKEN_ALL, type Gateway } from '../helpers/gateway.js';
import { until } from '../helpers/until.js';

// More than loopback socket buffers hold (the receive buffer here may grow to 32 MiB, tcp_rmem), so a reader that
// stops reading stalls the send; the retained cap is raised to allow it.
const BIG = 96 * 1024 * 1024;
const TIERS = { retained: { store: 'retained', 'cap-bytes': 128 * 1024 * 1024 } };

async function upload(gw: Gateway, ws: string, name: string, bytes: number): Promise<string> {
  const res = await fetch(`${gw.url}/v1/workspaces/${ws}/uploads/${name}`, { method: 'PUT', headers: { authorization: `Bearer ${TOKEN_ALL}` }, body: Buffer.alloc(bytes, 7) });
  const json = (await res.json()) as { uri: string };
  if (res.status !== 201) throw new Error(`upload: ${res.status} ${JSON.stringify(json)}`);
  return json.uri;
}

/** A raw client that sends the request, takes the first chunk of the answer and then stops reading. */
async function stalledReader(gw: Gateway, path: string): Promise<{ socket: Socket; head: string; received: () => number; closed: Promise<void> }> {
  const socket = connect(Number(new URL(gw.url).port), '127.0.0.1');
  socket.on('error', () => undefined);
  let received = 0;
  const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
  socket.write(`GET ${path} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${TOKEN_ALL}\r\n\r\n`);
  const head = await new Promise<string>((resolve) =>
    socket.on('data', (d: Buffer) => {
      if (received === 0) {
        socket.pause();
        resolve(d.toString('latin1'));
      }
      received += d.length;
    }),
  );
  return { socket, head, received: () => received, closed };
}

/** Descriptors of this process, and those open on stored objects (the gateway runs in this process). */
async function fds(dataDir: string): Promise<{ all: number; objects: number }> {
  const links = await Promise.all((await readdir('/proc/self/fd')).map((fd) => readlink(`/proc/self/fd/${fd}`).catch(() => '')));
  return { all: links.length, objects: links.filter((l) => l.startsWith(dataDir) && l.includes('/objects/')).length };
}

const content = (uri: string): string => `/v1/resources/content?uri=${encodeURIComponent(uri)}`;

t.test('past limits.workspace-reads and limits.reads, a read is overloaded at once, content and signed alike', async (t) => {
  const gw = await startGateway({ tiers: TIERS, limits: { reads: 3, 'workspace-reads': 2 } });
  const readers: Socket[] = [];
  t.teardown(async () => {
    for (const s of readers) s.destroy();
    await gw.close();
  });
  const uri1 = await upload(gw, 'ws-1', 'big.bin', BIG);
  const uri2 = await upload(gw, 'ws-2', 'small.txt', 5);
  const uri2big = await upload(gw, 'ws-2', 'big.bin', BIG);
  for (let i = 0; i < 2; i++) {
    const r = await stalledReader(gw, content(uri1));
    t.match(r.head, /^HTTP\/1\.1 200/);
    readers.push(r.socket);
  }
  const refused = await gw.call('GET', content(uri1));
  t.equal(refused.status, 503, "ws-1's third read is past its share");
  t.equal(refused.json.error.code, 'overloaded');
  t.equal(refused.headers.get('retry-after'), '1');
  t.equal(refused.json.error.details.workspace, 'ws-1');
  t.match(refused.json.error.message, /limits\.workspace-reads/);
  const signed = await gw.call('POST', '/v1/resources/url', { uri: uri1 });
  const signedRead = await fetch(signed.json.url);
  t.equal(signedRead.status, 503, 'a signed read counts against the same share (it needs no token)');
  t.equal(((await signedRead.json()) as { error: { code: string } }).error.code, 'overloaded');

  const ok = await gw.call('GET', content(uri2));
  t.equal(ok.status, 200, 'another workspace still reads');
  t.equal(ok.json, '\u0007'.repeat(5));
  const third = await stalledReader(gw, content(uri2big));
  readers.push(third.socket);
  const full = await gw.call('GET', content(uri2));
  t.equal(full.status, 503, 'the total is reached');
  t.match(full.json.error.message, /limits\.reads/);

  // A reader that leaves gives its slot back.
  readers.shift()!.destroy();
  await until('the slot is free', async () => {
    const r = await fetch(`${gw.url}${content(uri1)}`, { headers: { authorization: `Bearer ${TOKEN_ALL}`, range: 'bytes=0-9' } });
    await r.arrayBuffer();
    return r.status === 206;
  });
});

t.test('a reader that stops reading is cut off after server.send-idle-timeout-seconds; its descriptors are released', async (t) => {
  const gw = await startGateway({ tiers: TIERS, limits: { reads: 1 }, server: { 'send-idle-timeout-seconds': 0.5 } });
  const uri = await upload(gw, 'ws-1', 'big.bin', BIG);
  const before = await fds(gw.dataDir);
  t.equal(before.objects, 0);
  const reader = await stalledReader(gw, content(uri));
  t.teardown(async () => {
    reader.socket.destroy();
    await gw.close();
  });
  t.match(reader.head, /^HTTP\/1\.1 200/);
  t.equal((await fds(gw.dataDir)).objects, 1, 'the stalled read holds the stored object open');
  const started = Date.now();
  // The client is still connected and still not reading: only the gateway can close the stored object.
  await until('the gateway closed the stored object of the reader that stopped reading', async () => (await fds(gw.dataDir)).objects === 0);
  t.ok(Date.now() - started < 5000, `cut after ${Date.now() - started} ms`);
  t.notOk(reader.socket.destroyed, 'the client did not leave');
  // Reading again, the client finds the answer cut short.
  reader.socket.resume();
  await reader.closed;
  t.ok(reader.received() < BIG, `the answer ended after ${reader.received()} of ${BIG} bytes`);
  await until('every descriptor is back', async () => (await fds(gw.dataDir)).all <= before.all);
  const again = await fetch(`${gw.url}${content(uri)}`, { headers: { authorization: `Bearer ${TOKEN_ALL}`, range: 'bytes=0-3' } });
  t.equal(again.status, 206, 'its read slot was given back');
  t.same(Buffer.from(await again.arrayBuffer()), Buffer.alloc(4, 7));
});
