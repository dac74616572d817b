import t from 'tap';
import { refBodyScenarios } from '../e2e/ref-bodies-scenarios.js';
import { startGateway } from '../helpers/gateway.js';
import { startUpstream } from '../helpers/upstream.js';

const gw = await startGateway({ tiers: { ephemeral: { 'ttl-seconds': 2 } } });
const up = await startUpstream();
t.teardown(async () => {
  await gw.close();
  await up.stop();
});

refBodyScenarios(t, gw, up);

t.test('an expired ephemeral ref is gone', async (t) => {
  const ref = await gw.step({ request: { url: `${up.url}/bytes/10` }, persist: { type: 'blob', tier: 'ephemeral' } });
  await new Promise((r) => setTimeout(r, 2100));
  const res = await gw.step({ request: { url: `${up.url}/echo`, method: 'post', 'body-from-ref': ref.json } });
  t.equal(res.status, 410);
  t.equal(res.json.error.code, 'gone');
});

t.test('one body mode at a time', async (t) => {
  const ref = await gw.step({ request: { url: `${up.url}/bytes/10` }, persist: { type: 'blob' } });
  const res = await gw.step({ request: { url: `${up.url}/echo`, method: 'post', 'body-from-ref': ref.json, json: { a: 1 } } });
  t.equal(res.status, 400);
  t.equal(res.json.error.code, 'invalid_request');
  t.match(res.json.error.message, /one request body/);
  const bad = await gw.step({ request: { url: `${up.url}/echo`, method: 'post', multipart: [{ name: 'a' }] } });
  t.match(bad.json.error.message, /exactly one of "value" or "from-ref"/);
});
