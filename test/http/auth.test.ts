import t from 'tap';
import { startGateway, TOKEN_WS1 } from '../helpers/gateway.js';
import { startUpstream } from '../helpers/upstream.js';

const gw = await startGateway();
const up = await startUpstream();
t.teardown(async () => {
  await gw.close();
  await up.stop();
});

// A resource in ws-2, which TOKEN_WS1 is not granted.
const other = await gw.step({ request: { url: `${up.url}/bytes/5` }, persist: { type: 'blob' } }, 'ws-2');
const ws2Uri = encodeURIComponent(other.json.uri);
const stepBody = { 'flow-slug': 'f', 'step-id': 's', request: { url: `${up.url}/bytes/5` } };

const routes: Array<[string, string, string, unknown?]> = [
  ['run a step', 'POST', '/v1/workspaces/ws-2/http', stepBody],
  ['descriptor', 'GET', `/v1/resources?uri=${ws2Uri}`],
  ['content', 'GET', `/v1/resources/content?uri=${ws2Uri}`],
  ['sign a URL', 'POST', '/v1/resources/url', { uri: other.json.uri }],
  ['list', 'GET', '/v1/workspaces/ws-2/resources'],
  ['delete', 'DELETE', `/v1/resources?uri=${ws2Uri}`],
];

for (const [name, method, path, body] of routes) {
  t.test(`${name}: missing or wrong token is 401, another workspace is 403`, async (t) => {
    const none = await gw.call(method, path, body, { token: null });
    t.equal(none.status, 401);
    t.equal(none.json.error.code, 'unauthorized');
    const wrong = await gw.call(method, path, body, { token: 'not-a-valid-token-at-all' });
    t.equal(wrong.status, 401);
    t.equal(wrong.json.error.code, 'unauthorized');
    const basic = await gw.call(method, path, body, { token: null, headers: { authorization: 'Basic dXNlcjpwYXNz' } });
    t.equal(basic.status, 401);
    const foreign = await gw.call(method, path, body, { token: TOKEN_WS1 });
    t.equal(foreign.status, 403);
    t.equal(foreign.json.error.code, 'forbidden');
    t.match(foreign.json.error.message, /ws-2/);
  });
}

t.test('nothing was changed in ws-2 by refused calls', async (t) => {
  const desc = await gw.call('GET', `/v1/resources?uri=${ws2Uri}`);
  t.equal(desc.status, 200, 'the resource is still there after the refused delete');
  t.equal(up.requests.length, 1, 'the refused step made no upstream request');
});

t.test('a URI naming another workspace than the path cannot be smuggled through encoding', async (t) => {
  const sneaky = other.json.uri.replace('/ws/ws-2/', '/ws/ws%2D2/');
  const res = await gw.call('GET', `/v1/resources?uri=${encodeURIComponent(sneaky)}`, undefined, { token: TOKEN_WS1 });
  t.equal(res.status, 403);
});

t.test('unknown routes are not_found JSON; health needs no token', async (t) => {
  const res = await gw.call('GET', '/v1/nope');
  t.equal(res.status, 404);
  t.equal(res.json.error.code, 'not_found');
  t.same((await gw.call('GET', '/healthz', undefined, { token: null })).json, { status: 'ok' });
  const ready = await gw.call('GET', '/readyz', undefined, { token: null });
  t.equal(ready.status, 200);
  t.same(ready.json, { status: 'ready', stores: { retained: 'ok', ephemeral: 'ok' } });
});

t.test('a non-JSON body or an oversized body is invalid_request, not 500', async (t) => {
  const res = await fetch(`${gw.url}/v1/workspaces/ws-1/http`, { method: 'POST', headers: { authorization: `Bearer ${TOKEN_WS1}`, 'content-type': 'text/plain' }, body: 'hi' });
  t.equal(res.status, 400);
  t.equal(((await res.json()) as { error: { code: string } }).error.code, 'invalid_request');
  const big = await gw.call('POST', '/v1/workspaces/ws-1/http', { 'flow-slug': 'f', 'step-id': 's', request: { url: 'http://x/', body: 'x'.repeat(1_100_000) } });
  t.equal(big.status, 400);
  t.equal(big.json.error.code, 'invalid_request');
  t.match(big.json.error.message, /larger than the API accepts/);
});
