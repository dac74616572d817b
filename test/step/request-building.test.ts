import type { Test } from 'tap';
import t from 'tap';
import { startGateway } from '../helpers/gateway.js';
import { startUpstream } from '../helpers/upstream.js';

const gw = await startGateway();
const up = await startUpstream();
t.teardown(async () => {
  await gw.close();
  await up.stop();
});

/** Runs a step against /echo and returns what the upstream received. */
async function echo(t: Test, request: Record<string, unknown>): Promise<{ method: string; url: string; headers: Record<string, string>; body: string }> {
  const res = await gw.step({ request: { url: `${up.url}/echo`, ...request } });
  t.equal(res.status, 200, JSON.stringify(res.json).slice(0, 300));
  return res.json.body;
}

t.test('method, query and headers reach the upstream', async (t) => {
  const got = await echo(t, { method: 'put', query: { a: 1, b: [true, 'x y'] }, headers: { 'X-Trace': 'abc' }, body: 'hello' });
  t.equal(got.method, 'PUT');
  t.equal(got.url, '/echo?a=1&b=true&b=x+y');
  t.equal(got.headers['x-trace'], 'abc');
  t.equal(got.body, 'hello');
  t.equal(got.headers['content-type'], 'text/plain; charset=utf-8');
  t.equal(got.headers['content-length'], '5');
});

t.test('json wins over body', async (t) => {
  const got = await echo(t, { method: 'post', json: { k: 'v' }, body: 'ignored' });
  t.equal(got.body, '{"k":"v"}');
  t.equal(got.headers['content-type'], 'application/json');
});

t.test('form is url-encoded', async (t) => {
  const got = await echo(t, { method: 'post', form: { a: 'b c', n: 2 } });
  t.equal(got.body, 'a=b+c&n=2');
  t.equal(got.headers['content-type'], 'application/x-www-form-urlencoded');
});

t.test('content-type and accept take keywords or MIME types', async (t) => {
  const got = await echo(t, { method: 'post', body: 'a,b', 'content-type': ':csv', accept: 'json' });
  t.equal(got.headers['content-type'], 'text/csv');
  t.equal(got.headers.accept, 'application/json');
  const got2 = await echo(t, { method: 'post', body: '<a/>', 'content-type': 'application/xml' });
  t.equal(got2.headers['content-type'], 'application/xml');
});

t.test('hop-by-hop and transport headers from the caller are dropped', async (t) => {
  const got = await echo(t, {
    headers: { Connection: 'close, x-secret', 'Keep-Alive': '1', TE: 'trailers', Upgrade: 'h2c', 'Proxy-Foo': '1', Host: 'evil.example', 'Content-Length': '99', 'X-Kept': 'yes' },
  });
  t.equal(got.headers['x-kept'], 'yes');
  t.equal(got.headers['keep-alive'], undefined);
  t.equal(got.headers.upgrade, undefined);
  t.equal(got.headers['proxy-foo'], undefined);
  t.equal(got.headers.te, undefined);
  t.match(got.headers.host, /^127\.0\.0\.1:\d+$/);
  t.not(got.headers.connection, 'close, x-secret');
});

t.test('CR or LF in a header is invalid_request', async (t) => {
  const res = await gw.step({ request: { url: `${up.url}/echo`, headers: { 'X-Bad': 'a\r\nInjected: 1' } } });
  t.equal(res.status, 400);
  t.equal(res.json.error.code, 'invalid_request');
  t.match(res.json.error.message, /CR, LF/);
  t.equal(up.requests.filter((r) => r.headers.injected !== undefined).length, 0);
});

t.test('parser-fn and an unknown template are refused clearly, never ignored', async (t) => {
  for (const [field, value, message] of [
    ['template', 'nope', /request\.template "nope" is not a request template/],
    ['parser-fn', { x: 1 }, /request\.parser-fn is not supported: blobgate runs no caller code.*response-as/],
  ] as const) {
    const before = up.requests.length;
    const res = await gw.step({ request: { url: `${up.url}/echo`, [field]: value } });
    t.equal(res.status, 400, field);
    t.equal(res.json.error.code, 'invalid_request');
    t.match(res.json.error.message, message);
    t.equal(up.requests.length, before, 'no upstream request was made');
  }
});

t.test('schema errors name the field', async (t) => {
  const cases: Array<[Record<string, unknown>, RegExp]> = [
    [{ request: { url: `${up.url}/echo`, methd: 'get' } }, /Unknown field "request\.methd"/],
    [{ request: { url: `${up.url}/echo`, method: 'trace' } }, /"request\.method" must be one of/],
    [{ request: { url: `${up.url}/echo`, timeout: 'soon' } }, /"request\.timeout"/],
    [{ request: { url: 'not a url' } }, /request\.url is not an absolute URL/],
    [{ request: {} }, /request\.url is required/],
    [{ request: { url: `${up.url}/echo` }, persist: { type: 'table' } }, /"persist\.type" must be one of: blob/],
    [{ request: { url: `${up.url}/echo` }, persist: { type: 'blob', tier: 'cold' } }, /"persist\.tier" must be one of/],
  ];
  for (const [body, message] of cases) {
    const res = await gw.step(body);
    t.equal(res.status, 400, JSON.stringify(body));
    t.equal(res.json.error.code, 'invalid_request');
    t.match(res.json.error.message, message);
  }
  const missing = await gw.call('POST', '/v1/workspaces/ws-1/http', { request: { url: 'http://x/' } });
  t.equal(missing.status, 400);
  t.match(missing.json.error.message, /Field "(flow-slug|step-id)" is required/);
  const badJson = await gw.call('POST', '/v1/workspaces/ws-1/http', '{"flow-slug": ');
  t.equal(badJson.status, 400);
  t.equal(badJson.json.error.code, 'invalid_request');
  t.match(badJson.json.error.message, /not valid JSON/);
});
