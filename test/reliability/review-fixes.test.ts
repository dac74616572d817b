import { request as httpRequest } from 'node:http';
import { Readable } from 'node:stream';
import t from 'tap';
import { buildConfig } from '../../src/config/load.js';
import { TransferGate } from '../../src/http/transfer-gate.js';
import { BlobgateError } from '../../src/errors.js';
import { refBody } from '../../src/step/ref-bodies.js';
import type { StorageDriver } from '../../src/storage/driver.js';
import { StoreRegistry } from '../../src/storage/registry.js';
import { patternChunk } from '../helpers/bytes.js';
import { startFaultUpstream } from '../helpers/fault-upstream.js';
import { startGateway, TOKEN_ALL } from '../helpers/gateway.js';
import { startUpstream } from '../helpers/upstream.js';

t.test('a storage read that fails while sending body-from-ref is an error of that request, not a crash', async (t) => {
  const gw = await startGateway();
  t.teardown(() => gw.close());
  const up = await startUpstream();
  t.teardown(() => up.stop());
  const stored = await gw.step({ request: { url: `${up.url}/bytes/3000000` }, persist: { type: 'blob' } });
  const real = gw.stores.get('retained');
  let destroyed = false;
  // The real driver, whose read stream fails after 1 MiB.
  const failing: StorageDriver = Object.assign(Object.create(real) as StorageDriver, {
    read: async (key: string) => {
      const r = await real.read(key);
      r.body.destroy();
      const body = new Readable({ read() {} });
      body.push(patternChunk(0, 1024 * 1024));
      setTimeout(() => body.destroy(new Error('disk read failed')), 20);
      body.once('close', () => (destroyed = true));
      return { ...r, body };
    },
  });
  const config = buildConfig({}, { BLOBGATE_DATA_DIR: gw.dataDir }, gw.dataDir);
  const { body } = await refBody({ config, stores: StoreRegistry.of({ retained: failing }) }, 'ws-1', stored.json);
  const stream = await body.open(new AbortController().signal);
  await t.rejects(
    (async () => {
      for await (const _ of stream) void _;
    })(),
    { message: /disk read failed/ },
  );
  t.ok(destroyed, 'the failed source was closed');
});

t.test('a resume after a cross-origin redirect does not carry the first origin\'s credential', async (t) => {
  const a = await startUpstream();
  const fu = await startFaultUpstream();
  const gw = await startGateway({ secrets: { 'allow-plain-on-url': true } }, { env: { BLOBGATE_SECRET__WS_1__TOKEN: 'bearer-for-origin-a-only' } });
  t.teardown(async () => {
    await gw.close();
    await a.stop();
    await fu.stop();
  });
  const target = `${fu.url}/f/x1/2000000?fault=reset&at=500000&ranges=1`;
  const res = await gw.step({
    request: { url: `${a.url}/redirect/302?to=${encodeURIComponent(target)}`, auth: { type: 'bearer', 'secret-ref': 'token' }, retry: { 'max-attempts': 3, 'backoff-ms': 1 } },
    persist: { type: 'blob' },
  });
  t.equal(res.status, 200, JSON.stringify(res.json));
  t.equal(fu.ranges('x1').length, 2, 'the body was resumed');
  t.same(fu.authorizations('x1'), [undefined, undefined], 'neither the first request nor the resume carried the credential');
});

t.test('an api-key sent in the query is scrubbed from the redirect chain of an error', async (t) => {
  const a = await startUpstream();
  const gw = await startGateway({ secrets: { 'allow-plain-on-url': true } }, { env: { BLOBGATE_SECRET__WS_1__KEY: 'sk-live-SUPERSECRET-123456' } });
  t.teardown(async () => {
    await gw.close();
    await a.stop();
  });
  const loop = `${a.url}/redirect/302?to=${encodeURIComponent(`${a.url}/echo`)}`;
  const res = await gw.step({ request: { url: loop, auth: { type: 'api-key', 'secret-ref': 'key', query: 'api_key' }, 'client-opts': { 'max-redirects': 0 } } });
  t.equal(res.json.error.code, 'upstream_status');
  const over = await gw.step({ request: { url: `${a.url}/redirect/302?to=${encodeURIComponent(loop)}`, auth: { type: 'api-key', 'secret-ref': 'key', query: 'api_key' }, 'client-opts': { 'max-redirects': 1 } } });
  t.equal(over.json.error.code, 'upstream_status');
  t.ok(over.json.error.details.chain.length >= 2);
  t.notMatch(JSON.stringify(over.json), /SUPERSECRET/);
  t.match(over.json.error.details.chain[0], /api_key=%5Bredacted%5D|api_key=\[redacted\]/);
});

t.test('a multipart client that leaves between parts releases its transfer slot', async (t) => {
  const gw = await startGateway({ limits: { transfers: 1, 'transfer-queue': 0 } });
  t.teardown(() => gw.close());
  const { port } = new URL(gw.url);
  const req = httpRequest({ host: '127.0.0.1', port, method: 'POST', path: '/v1/workspaces/ws-1/uploads', headers: { authorization: `Bearer ${TOKEN_ALL}`, 'content-type': 'multipart/form-data; boundary=XX' } });
  req.on('error', () => undefined);
  req.write('--XX\r\nContent-Disposition: form-data; name="path"\r\n\r\ninbox\r\n');
  await new Promise((r) => setTimeout(r, 200));
  req.destroy();
  await new Promise((r) => setTimeout(r, 200));
  const fd = new FormData();
  fd.append('file', new Blob([Buffer.from('hello')]), 'a.txt');
  const res = await fetch(`${gw.url}/v1/workspaces/ws-1/uploads`, { method: 'POST', headers: { authorization: `Bearer ${TOKEN_ALL}` }, body: fd });
  t.equal(res.status, 201, 'the slot was free again');
});

t.test('aborted waiters do not hold places in the queue', async (t) => {
  const gate = new TransferGate(1, 2);
  let release!: () => void;
  const running = gate.run(new AbortController(), () => new Promise<void>((r) => (release = r)));
  const waiters = [new AbortController(), new AbortController()];
  const queued = waiters.map((c) => gate.run(c, async () => undefined).catch((e: unknown) => e));
  t.equal(gate.queued, 2);
  for (const c of waiters) c.abort(new BlobgateError('aborted', 'client left'));
  t.same((await Promise.all(queued)).map((e) => (e as BlobgateError).code), ['aborted', 'aborted']);
  t.equal(gate.queued, 0);
  const fresh = gate.run(new AbortController(), async () => 'ran');
  release();
  await running;
  t.equal(await fresh, 'ran', 'accepted, not overloaded');
});

t.test('caller mistakes in uploads and multipart are invalid_request, and UTF-8 filenames survive', async (t) => {
  const gw = await startGateway();
  t.teardown(() => gw.close());
  const put = (path: string, headers: Record<string, string> = {}) =>
    fetch(`${gw.url}/v1/workspaces/ws-1/uploads/${path}`, { method: 'PUT', headers: { authorization: `Bearer ${TOKEN_ALL}`, ...headers }, body: 'x' }).then(async (r) => ({ status: r.status, json: (await r.json()) as any }));
  for (const q of ['a.txt?path=a&path=b', 'a.txt?content-type=text/plain&content-type=text/csv', 'a.txt?content-type=text%2Fhtml%0D%0ASet-Cookie%3A%20a%3Db', 'a.txt?content-type=nonsense']) {
    const res = await put(q);
    t.equal(res.status, 400, q);
    t.equal(res.json.error.code, 'invalid_request', q);
  }
  const slash = await put('a%2Fb.txt');
  t.equal(slash.json.error.code, 'path_invalid');
  for (const part of [{ name: 'f', value: 'x', filename: 123 }, { name: 'f', value: 'x', filename: ['a'] }, { name: 'f', value: 'x', 'content-type': 5 }]) {
    const res = await gw.step({ request: { url: 'http://127.0.0.1:9/x', method: 'post', multipart: [part] } });
    t.equal(res.json.error.code, 'invalid_request', JSON.stringify(part));
  }
  const fd = new FormData();
  fd.append('file', new Blob([Buffer.from('x')]), 'résumé-日本.txt');
  const res = await fetch(`${gw.url}/v1/workspaces/ws-1/uploads`, { method: 'POST', headers: { authorization: `Bearer ${TOKEN_ALL}` }, body: fd });
  const json = (await res.json()) as any;
  t.match(json.items[0]['blob-ref'].path, /\/résumé-日本\.txt$/);
});
