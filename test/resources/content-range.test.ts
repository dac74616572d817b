import t from 'tap';
import { collect, patternChunk } from '../helpers/bytes.js';
import { startGateway, TOKEN_ALL } from '../helpers/gateway.js';
import { startUpstream } from '../helpers/upstream.js';

const gw = await startGateway({ tiers: { ephemeral: { 'ttl-seconds': 1 } } });
const up = await startUpstream();
t.teardown(async () => {
  await gw.close();
  await up.stop();
});

const SIZE = 10_000;
const stored = await gw.step({ request: { url: `${up.url}/bytes/${SIZE}/obj.bin` }, persist: { type: 'blob' } });
const uri: string = stored.json.uri;
const whole = patternChunk(0, SIZE);

async function get(range?: string): Promise<{ status: number; headers: Headers; body: Buffer }> {
  const res = await fetch(`${gw.url}/v1/resources/content?uri=${encodeURIComponent(uri)}`, {
    headers: { authorization: `Bearer ${TOKEN_ALL}`, ...(range ? { range } : {}) },
  });
  return { status: res.status, headers: res.headers, body: await collect(res.body as unknown as AsyncIterable<Uint8Array>) };
}

t.test('the descriptor is the resource ref', async (t) => {
  const res = await gw.call('GET', `/v1/resources?uri=${encodeURIComponent(uri)}`);
  t.equal(res.status, 200);
  t.same(res.json, { type: 'resource-ref', uri, 'resource-uri': uri, 'content-type': 'application/octet-stream', 'blob-ref': stored.json['blob-ref'] });
});

t.test('content streams the whole object', async (t) => {
  const res = await get();
  t.equal(res.status, 200);
  t.same(res.body, whole);
  t.equal(res.headers.get('content-length'), String(SIZE));
  t.equal(res.headers.get('accept-ranges'), 'bytes');
  t.equal(res.headers.get('etag'), `"${stored.json['blob-ref'].sha256}"`);
});

t.test('Range answers 206 with Content-Range; suffix ranges work', async (t) => {
  const cases: Array<[string, number, number]> = [
    ['bytes=0-0', 0, 0],
    ['bytes=100-199', 100, 199],
    ['bytes=9990-', 9990, 9999],
    ['bytes=-10', 9990, 9999],
    ['bytes=9000-20000', 9000, 9999],
  ];
  for (const [range, start, end] of cases) {
    const res = await get(range);
    t.equal(res.status, 206, range);
    t.equal(res.headers.get('content-range'), `bytes ${start}-${end}/${SIZE}`);
    t.same(res.body, whole.subarray(start, end + 1));
  }
});

t.test('an unsatisfiable range is 416 with Content-Range bytes */size', async (t) => {
  for (const range of ['bytes=10000-', 'bytes=-0', 'bytes=5-2', 'bytes=abc', 'bytes=0-1,5-6']) {
    const res = await get(range);
    t.equal(res.status, 416, range);
    t.equal(JSON.parse(res.body.toString()).error.code, 'range_not_satisfiable');
  }
  t.equal((await get('bytes=10000-')).headers.get('content-range'), `bytes */${SIZE}`);
});

t.test('delete is idempotent and the resource is then not_found', async (t) => {
  const other = await gw.step({ request: { url: `${up.url}/bytes/10` }, persist: { type: 'blob' } });
  const q = `/v1/resources?uri=${encodeURIComponent(other.json.uri)}`;
  t.equal((await gw.call('DELETE', q)).status, 204);
  t.equal((await gw.call('DELETE', q)).status, 204);
  const gone = await gw.call('GET', q);
  t.equal(gone.status, 404);
  t.equal(gone.json.error.code, 'not_found');
  const content = await gw.call('GET', `/v1/resources/content?uri=${encodeURIComponent(other.json.uri)}`);
  t.equal(content.status, 404);
});

t.test('an expired ephemeral resource is gone (410)', async (t) => {
  const eph = await gw.step({ request: { url: `${up.url}/bytes/10` }, persist: { type: 'blob', tier: 'ephemeral' } });
  t.equal(eph.status, 200);
  await new Promise((r) => setTimeout(r, 1100));
  for (const path of ['/v1/resources', '/v1/resources/content']) {
    const res = await gw.call('GET', `${path}?uri=${encodeURIComponent(eph.json.uri)}`);
    t.equal(res.status, 410, path);
    t.equal(res.json.error.code, 'gone');
  }
  const url = await gw.call('POST', '/v1/resources/url', { uri: eph.json.uri });
  t.equal(url.json.error.code, 'gone');
});

t.test('malformed URIs are invalid_request; unknown store is not_found', async (t) => {
  for (const bad of ['http://x', 'res://v1/ws/ws-1/result/table/x', 'res://v1/ws/ws-1/file/blob', 'res://v1/ws/ws-1/file/blob/retained/%E0%A4%A']) {
    const res = await gw.call('GET', `/v1/resources?uri=${encodeURIComponent(bad)}`);
    t.equal(res.status, 400, bad);
    t.equal(res.json.error.code, 'invalid_request');
  }
  const dots = await gw.call('GET', `/v1/resources?uri=${encodeURIComponent('res://v1/ws/ws-1/file/blob/retained/a/../../ws-2/x')}`);
  t.equal(dots.json.error.code, 'path_invalid');
  const store = await gw.call('GET', `/v1/resources?uri=${encodeURIComponent('res://v1/ws/ws-1/file/blob/nostore/a')}`);
  t.equal(store.status, 404);
  const noUri = await gw.call('GET', '/v1/resources');
  t.equal(noUri.status, 400);
  t.match(noUri.json.error.message, /"uri" is required/);
});
