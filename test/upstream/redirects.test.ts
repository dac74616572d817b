import t from 'tap';
import { startGateway } from '../helpers/gateway.js';
import { startUpstream } from '../helpers/upstream.js';

const a = await startUpstream();
const b = await startUpstream(); // another port: another origin
const gw = await startGateway({ secrets: { 'allow-plain-on-url': true } }, { env: { BLOBGATE_SECRET__WS_1__TOKEN: 'sekrit-token-value' } });
t.teardown(async () => {
  await gw.close();
  await a.stop();
  await b.stop();
});

const to = (url: string) => encodeURIComponent(url);

t.test('301/302/303 turn a POST into a GET without body; 307/308 keep method and body', async (t) => {
  for (const [status, method, body] of [
    [301, 'GET', ''],
    [302, 'GET', ''],
    [303, 'GET', ''],
    [307, 'POST', '{"k":1}'],
    [308, 'POST', '{"k":1}'],
  ] as const) {
    const res = await gw.step({ request: { url: `${a.url}/redirect/${status}?to=${to('/echo')}`, method: 'post', json: { k: 1 } } });
    t.equal(res.status, 200, String(status));
    t.equal(res.json.body.method, method, `${status} method`);
    t.equal(res.json.body.body, body, `${status} body`);
    if (method === 'GET') t.equal(res.json.body.headers['content-type'], undefined, 'no content-type without a body');
  }
});

t.test('credentials are dropped when a redirect changes origin, kept on the same origin', async (t) => {
  // A literal Cookie header is an inline credential now (test/upstream/credential-names.test.ts).
  const step = (url: string) =>
    gw.step({ request: { url, headers: { 'X-Other': 'kept' }, auth: { type: 'bearer', 'secret-ref': 'token' } } });
  const same = await step(`${a.url}/redirect/302?to=${to(`${a.url}/echo`)}`);
  t.equal(same.json.body.headers.authorization, 'Bearer sekrit-token-value');
  const cross = await step(`${a.url}/redirect/302?to=${to(`${b.url}/echo`)}`);
  t.equal(cross.status, 200);
  t.equal(cross.json.body.headers.authorization, undefined, 'Authorization dropped');
  t.equal(cross.json.body.headers['x-other'], 'kept');
  const apiKey = await gw.step({ request: { url: `${a.url}/redirect/307?to=${to(`${b.url}/echo`)}`, auth: { type: 'api-key', 'secret-ref': 'token', header: 'X-Custom-Key' } } });
  t.equal(apiKey.json.body.headers['x-custom-key'], undefined, 'a custom api-key header is dropped too');
});

t.test('more hops than max-redirects is upstream_status with the chain', async (t) => {
  let url = `${a.url}/echo`;
  for (let i = 0; i < 3; i++) url = `${a.url}/redirect/302?to=${to(url)}`;
  const ok = await gw.step({ request: { url, 'client-opts': { 'max-redirects': 3 } } });
  t.equal(ok.status, 200, 'exactly the limit is followed');
  const over = await gw.step({ request: { url, 'client-opts': { 'max-redirects': 2 } } });
  t.equal(over.status, 502);
  t.equal(over.json.error.code, 'upstream_status');
  t.equal(over.json.error.details.chain.length, 4, 'the URLs fetched, then the redirect not followed');
  t.match(over.json.error.details.chain[0], /\/redirect\/302/);
  t.equal(over.json.error.details.chain[3], `${a.url}/echo`, 'the target of the third redirect was not fetched');
});

t.test('the default limit is 5', async (t) => {
  let url = `${a.url}/echo`;
  for (let i = 0; i < 6; i++) url = `${a.url}/redirect/302?to=${to(url)}`;
  const res = await gw.step({ request: { url } });
  t.equal(res.json.error.code, 'upstream_status');
  t.equal(res.json.error.details.chain.length, 7);
  t.equal(res.json.error.details.chain[6], `${a.url}/echo`, "five redirects followed, the sixth refused");
});

t.test('max-redirects 0 does not follow: the 3xx is upstream_status with its Location', async (t) => {
  const res = await gw.step({ request: { url: `${a.url}/redirect/302?to=${to('/echo')}`, 'client-opts': { 'max-redirects': 0 } } });
  t.equal(res.status, 502);
  t.equal(res.json.error.details.status, 302);
  t.equal(res.json.error.details.location, '/echo');
});

t.test('a redirect to a non-http scheme is destination_blocked', async (t) => {
  const res = await gw.step({ request: { url: `${a.url}/redirect/302?to=${to('file:///etc/passwd')}` } });
  t.equal(res.status, 403);
  t.equal(res.json.error.code, 'destination_blocked');
});
