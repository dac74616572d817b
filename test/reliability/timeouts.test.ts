import { connect } from 'node:net';
import t from 'tap';
import { startGateway, TOKEN_ALL, type Gateway } from '../helpers/gateway.js';
import { startUpstream } from '../helpers/upstream.js';

async function until(what: string, cond: () => boolean | Promise<boolean>, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for: ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Parses a raw HTTP/1.1 answer: status line and JSON body. */
function parseRaw(raw: string): { status: number; json: any } {
  const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(raw)?.[1] ?? 0);
  const body = raw.slice(raw.indexOf('\r\n\r\n') + 4);
  return { status, json: body ? JSON.parse(body) : undefined };
}

/**
 * Writes `head`, then `drip` every 50 ms, and resolves with what the server
 * sent once it closes the connection. Bounded: the server must close it
 * within `ms`, or the test fails (no timeout would hold it open for ever).
 */
function trickleRaw(gw: Gateway, head: string, drip: string, ms = 5000): Promise<{ answer: string; elapsed: number }> {
  const { port } = new URL(gw.url);
  return new Promise((resolve, reject) => {
    const started = Date.now();
    const socket = connect(Number(port), '127.0.0.1');
    let answer = '';
    let timer: NodeJS.Timeout | undefined;
    const bound = setTimeout(() => {
      socket.destroy();
      reject(new Error(`the server kept a trickling connection open for ${ms} ms`));
    }, ms);
    socket.once('connect', () => {
      socket.write(head);
      timer = setInterval(() => socket.writable && socket.write(drip), 50);
    });
    socket.on('data', (d: Buffer) => (answer += d.toString('utf8')));
    socket.on('error', () => undefined); // a write racing the server's close
    socket.once('close', () => {
      clearInterval(timer);
      clearTimeout(bound);
      resolve({ answer, elapsed: Date.now() - started });
    });
  });
}

const auth = `authorization: Bearer ${TOKEN_ALL}\r\n`;

t.test('headers that trickle in are cut off at server.headers-timeout-seconds with client_timeout', async (t) => {
  const gw = await startGateway({ server: { 'headers-timeout-seconds': 0.3, 'request-timeout-seconds': 30 } });
  t.teardown(() => gw.close());
  const { answer, elapsed } = await trickleRaw(gw, 'GET /healthz HTTP/1.1\r\nhost: x\r\n', 'x-slow: 1\r\n');
  const res = parseRaw(answer);
  t.equal(res.status, 408);
  t.equal(res.json.error.code, 'client_timeout');
  t.match(res.json.error.message, /headers-timeout-seconds/);
  t.ok(elapsed >= 250, `not before the timeout (${elapsed} ms)`);
});

t.test('a request body that keeps trickling is cut off at server.request-timeout-seconds; nothing is stored', async (t) => {
  const gw = await startGateway({ server: { 'headers-timeout-seconds': 0.5, 'request-timeout-seconds': 1, 'upload-idle-timeout-seconds': 10 } });
  t.teardown(() => gw.close());
  const head = `PUT /v1/workspaces/ws-1/uploads/trickle.bin HTTP/1.1\r\nhost: x\r\n${auth}content-length: 100000\r\n\r\n`;
  const { answer, elapsed } = await trickleRaw(gw, head, 'y');
  const res = parseRaw(answer);
  t.equal(res.status, 408);
  t.equal(res.json.error.code, 'client_timeout');
  t.ok(elapsed >= 900, `after the request timeout, not before (${elapsed} ms)`);
  await until('the aborted write is cleaned up', async () => (await gw.residue()).tmp.length === 0);
  t.same((await gw.residue()).objects, [], 'nothing stored');
});

t.test('the request timeout covers receiving the request, not the transfer it starts', async (t) => {
  const gw = await startGateway({ server: { 'headers-timeout-seconds': 0.2, 'request-timeout-seconds': 0.3 } });
  const up = await startUpstream();
  t.teardown(async () => {
    await gw.close();
    await up.stop();
  });
  const started = Date.now();
  const res = await gw.step({ request: { url: `${up.url}/bytes/100000?delay-ms=1200` }, persist: { type: 'blob' } });
  t.equal(res.status, 200, 'a step running four request timeouts long succeeds');
  t.equal(res.json['blob-ref'].size, 100000);
  t.ok(Date.now() - started >= 1200);
});

t.test('an upload body that stops is aborted after server.upload-idle-timeout-seconds; nothing is stored', async (t) => {
  const gw = await startGateway({ server: { 'upload-idle-timeout-seconds': 0.3 } });
  t.teardown(() => gw.close());
  for (const [name, head, first] of [
    ['raw PUT', `PUT /v1/workspaces/ws-1/uploads/stalled.bin HTTP/1.1\r\nhost: x\r\n${auth}content-length: 100000\r\n\r\n`, 'z'.repeat(5000)],
    [
      'multipart',
      `POST /v1/workspaces/ws-1/uploads HTTP/1.1\r\nhost: x\r\n${auth}content-type: multipart/form-data; boundary=b0undary\r\ncontent-length: 100000\r\n\r\n`,
      `--b0undary\r\ncontent-disposition: form-data; name="file"; filename="stalled.bin"\r\ncontent-type: application/octet-stream\r\n\r\n${'z'.repeat(5000)}`,
    ],
  ] as const) {
    // The first bytes, then silence (an empty drip writes nothing).
    const { answer, elapsed } = await trickleRaw(gw, head + first, '');
    const res = parseRaw(answer);
    t.equal(res.status, 408, name);
    t.equal(res.json.error.code, 'client_timeout', name);
    t.match(res.json.error.message, /upload-idle-timeout-seconds/, name);
    t.ok(elapsed >= 250 && elapsed < 4000, `${name}: at the idle timeout (${elapsed} ms)`);
    await until(`${name}: the aborted write is cleaned up`, async () => (await gw.residue()).tmp.length === 0);
    t.same((await gw.residue()).objects, [], `${name}: nothing stored`);
  }
});

t.test('time an upload waits for a slot, or is held back by the store, is not idle time', async (t) => {
  const gw = await startGateway({ limits: { transfers: 1, 'workspace-transfers': 1 }, server: { 'upload-idle-timeout-seconds': 0.3 } });
  const up = await startUpstream();
  t.teardown(async () => {
    await gw.close();
    await up.stop();
  });
  // One step holds the only slot for a second (it stalls; its total-timeout ends it).
  const blocker = gw.step({ request: { url: `${up.url}/bytes/5000000?stall-after=1000`, timeout: 30, 'client-opts': { 'total-timeout': 1 } }, persist: { type: 'blob' } });
  await until('the blocker runs', () => up.requests.length === 1);
  const size = 4 * 1024 * 1024;
  const upload = fetch(`${gw.url}/v1/workspaces/ws-2/uploads/after-wait.bin`, { method: 'PUT', headers: { authorization: `Bearer ${TOKEN_ALL}` }, body: Buffer.alloc(size, 7) }).then(async (r) => ({ status: r.status, json: (await r.json()) as any }));
  t.equal((await blocker).status, 504);
  const res = await upload;
  t.equal(res.status, 201, 'the upload waited three idle timeouts for its slot and still succeeded');
  t.equal(res.json['blob-ref'].size, size);
});

t.test('every step has a deadline per tier; client-opts.total-timeout can shorten it, not extend it', async (t) => {
  const gw = await startGateway({ limits: { 'ephemeral-total-timeout-seconds': 0.5, 'retained-total-timeout-seconds': 0.7 } });
  const up = await startUpstream();
  t.teardown(async () => {
    await gw.close();
    await up.stop();
  });
  const trickle = `${up.url}/bytes/5000000?stall-after=100000`;
  for (const [name, body, seconds] of [
    ['ephemeral persist', { request: { url: trickle, timeout: 20 }, persist: { type: 'blob', tier: 'ephemeral' } }, 0.5],
    ['a longer total-timeout is capped', { request: { url: trickle, timeout: 20, 'client-opts': { 'total-timeout': 600 } }, persist: { type: 'blob', tier: 'ephemeral' } }, 0.5],
    ['retained persist', { request: { url: trickle, timeout: 20 }, persist: { type: 'blob' } }, 0.7],
    ['no persist counts as retained', { request: { url: `${up.url}/hang`, timeout: 20 } }, 0.7],
  ] as const) {
    const started = Date.now();
    const res = await gw.step(body as Record<string, unknown>);
    const elapsed = Date.now() - started;
    t.equal(res.status, 504, name);
    t.equal(res.json.error.code, 'upstream_timeout', name);
    t.match(res.json.error.message, /total-timeout-seconds/, name);
    t.equal(res.json.error.details['total-timeout'], seconds, name);
    t.ok(elapsed >= seconds * 1000 - 50 && elapsed < 4000, `${name}: at the deadline (${elapsed} ms)`);
  }
  const shorter = await gw.step({ request: { url: trickle, timeout: 20, 'client-opts': { 'total-timeout': 0.2 } }, persist: { type: 'blob', tier: 'ephemeral' } });
  t.equal(shorter.status, 504);
  t.match(shorter.json.error.message, /client-opts\.total-timeout \(0\.2 s\)/);
  await until('the aborted writes are cleaned up', async () => (await gw.residue()).tmp.length === 0);
  t.same((await gw.residue()).objects, []);
});

t.test('the timeouts are validated with the rest of the config', async (t) => {
  const { buildConfig } = await import('../../src/config/load.js');
  const err = t.throws(() => buildConfig({ server: { 'headers-timeout-seconds': 60, 'request-timeout-seconds': 30, bogus: 1 }, limits: { transfers: 4, 'workspace-transfers': 5 } }, {}, '/w')) as Error;
  for (const problem of [/server\.bogus: unknown key/, /limits\.workspace-transfers: must not exceed limits\.transfers \(4\)/, /server\.headers-timeout-seconds: must not exceed server\.request-timeout-seconds/]) {
    t.match(err.message, problem, 'all reported together');
  }
  const c = buildConfig({ limits: { transfers: 10, 'transfer-queue': 10 } }, {}, '/w');
  t.same([c.limits.workspaceTransfers, c.limits.workspaceTransferQueue], [3, 3], 'a workspace gets a quarter of each, rounded up');
  t.same(c.limits.totalTimeoutSeconds, { retained: 900, ephemeral: 7200 });
  t.same(c.server, { headersTimeoutSeconds: 15, requestTimeoutSeconds: 900, uploadIdleTimeoutSeconds: 30, sendIdleTimeoutSeconds: 60 });
});
