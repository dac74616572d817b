import t from 'tap';
import { startGateway } from '../helpers/gateway.js';
import { startUpstream } from '../helpers/upstream.js';

// The seeds write enumerated values as keywords (:get, :bytes, :ephemeral,
// :blob, :csv); each is the same value as its plain spelling, and a value that
// is not one is refused before any upstream byte is sent.

const gw = await startGateway();
const up = await startUpstream();
t.teardown(async () => {
  await gw.close();
  await up.stop();
});

t.test('method :get is GET on the wire, in one attempt (it used to fail as upstream_unreachable, retried)', async (t) => {
  const before = up.requests.length;
  const res = await gw.step({ request: { url: `${up.url}/json`, method: ':get', retry: { 'max-attempts': 3, 'backoff-ms': 1 } } });
  t.equal(res.status, 200, JSON.stringify(res.json));
  t.equal(res.json.attempts, 1);
  t.same(res.json.body, { ok: true, items: [1, 2, 3], name: 'blobgate' });
  t.equal(up.requests.length - before, 1, 'one upstream request');
  t.equal(up.requests.at(-1)?.method, 'GET');
});

t.test('method :post sends POST with the body', async (t) => {
  const res = await gw.step({ request: { url: `${up.url}/x/echo`, method: ':post', json: { a: 1 } } });
  t.equal(res.status, 200, JSON.stringify(res.json));
  t.equal(res.json.body.method, 'POST');
});
