import t from 'tap';
import { startGateway } from '../helpers/gateway.js';
import { startUpstream } from '../helpers/upstream.js';

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
