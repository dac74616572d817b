// Idempotency-Key on uploads: a repeat gets the first upload's answer and stores nothing more; other bytes
// under the key are refused; an upload whose client left may run again under its key.
import { request as httpRequest } from 'node:http';
import t from 'tap';
import { patternChunk, sha256 } from '../helpers/bytes.js';
import { startGateway, TOKEN_ALL, type Gateway } from '../helpers/gateway.js';
import { until } from '../helpers/until.js';

let gw: Gateway;
t.before(async () => {
  gw = await startGateway({ jobs: { 'heartbeat-seconds': 0.1, 'lost-after-seconds': 3 } });
});
t.teardown(() => gw.close());

const put = (name: string, body: Buffer, key?: string) =>
  fetch(`${gw.url}/v1/workspaces/ws-1/uploads/${name}?path=idem`, {
    method: 'PUT',
    headers: { authorization: `Bearer ${TOKEN_ALL}`, 'content-type': 'application/octet-stream', ...(key ? { 'idempotency-key': key } : {}) },
    body,
  });
const objects = async () => (await gw.residue()).objects.length;

t.test('raw PUT: the repeat answers the first upload, nothing more is stored; other bytes are 422', async (t) => {
  const bytes = patternChunk(0, 300_000);
  const first = await put('a.bin', bytes, 'upload-1');
  t.equal(first.status, 201);
  const ref = (await first.json()) as any;
  t.equal(ref['blob-ref'].sha256, sha256(bytes));
  const stored = await objects();
  const again = await put('a.bin', bytes, 'upload-1');
  t.equal(again.status, 201);
  t.equal(again.headers.get('idempotent-replayed'), 'true');
  t.same(await again.json(), ref, 'the same ref');
  t.equal(await objects(), stored, 'no second object');
  const other = Buffer.from(bytes);
  other[1000] = other[1000]! ^ 0xff;
  const changed = await put('a.bin', other, 'upload-1');
  t.equal(changed.status, 422);
  t.equal(((await changed.json()) as any).error.code, 'idempotency_key_reused');
  const renamed = await put('b.bin', bytes, 'upload-1');
  t.equal(renamed.status, 422, 'another file name is another request');
  t.equal(await objects(), stored);
});

t.test('multipart: the repeat answers the first upload', async (t) => {
  const form = () => {
    const f = new FormData();
    f.append('path', 'idem-mp');
    f.append('file', new Blob([patternChunk(0, 5000)]), 'x.bin');
    return f;
  };
  const send = () => fetch(`${gw.url}/v1/workspaces/ws-1/uploads`, { method: 'POST', headers: { authorization: `Bearer ${TOKEN_ALL}`, 'idempotency-key': 'mp-1' }, body: form() });
  const first = await send();
  t.equal(first.status, 201);
  const items = ((await first.json()) as any).items;
  const stored = await objects();
  const again = await send();
  t.equal(again.status, 201);
  t.same(((await again.json()) as any).items, items);
  t.equal(await objects(), stored);
});

t.test('an upload whose client left runs again under its key', async (t) => {
  const size = 2_000_000;
  await new Promise<void>((resolve) => {
    const req = httpRequest(`${gw.url}/v1/workspaces/ws-1/uploads/c.bin?path=idem`, {
      method: 'PUT',
      headers: { authorization: `Bearer ${TOKEN_ALL}`, 'content-type': 'application/octet-stream', 'content-length': size, 'idempotency-key': 'leaves-1' },
    });
    req.on('error', () => resolve());
    req.write(patternChunk(0, 100_000), () => {
      void until('the upload job runs', async () => (await gw.call('GET', '/v1/workspaces/ws-1/jobs?state=running')).json.items.length > 0).then(() => {
        req.destroy();
        resolve();
      });
    });
  });
  await until('the upload job failed', async () => (await gw.call('GET', '/v1/workspaces/ws-1/jobs?state=failed')).json.items.length > 0);
  const retry = await put('c.bin', patternChunk(0, size), 'leaves-1');
  t.equal(retry.status, 201);
  t.equal(((await retry.json()) as any)['blob-ref'].sha256, sha256(patternChunk(0, size)));
});

t.test('a repeat whose client leaves while the first upload still runs does not take the process down', async (t) => {
  const size = 1_000_000;
  const open = (key: string) =>
    httpRequest(`${gw.url}/v1/workspaces/ws-1/uploads/d.bin?path=idem`, {
      method: 'PUT',
      headers: { authorization: `Bearer ${TOKEN_ALL}`, 'content-type': 'application/octet-stream', 'content-length': size, 'idempotency-key': key },
    });
  const first = open('repeat-leaves');
  const firstAnswer = new Promise<number>((resolve) => first.on('response', (res) => (res.resume(), resolve(res.statusCode ?? 0))));
  first.write(patternChunk(0, 100_000));
  await until('the first upload runs', async () => (await gw.call('GET', '/v1/workspaces/ws-1/jobs?state=running')).json.items.length > 0);
  const repeat = open('repeat-leaves');
  repeat.on('error', () => undefined);
  // The repeat's first bytes reach the socket, then its client leaves while the gateway waits for the first upload.
  await new Promise((r) => repeat.write(patternChunk(0, 100_000), r));
  await until('the repeat was seen', () => repeat.socket !== null && repeat.socket.bytesWritten > 100_000);
  repeat.destroy();
  first.end(patternChunk(100_000, size - 100_000));
  t.equal(await firstAnswer, 201);
  t.equal((await gw.call('GET', '/healthz')).status, 200, 'the gateway still answers');
});
