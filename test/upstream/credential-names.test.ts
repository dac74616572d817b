import t, { type Test } from 'tap';
import { buildConfig, ConfigError } from '../../src/config/load.js';
import { CREDENTIAL_HEADERS } from '../../src/secrets/credential-names.js';
import { fetchFollowingRedirects } from '../../src/upstream/redirects.js';
import { UpstreamGuard } from '../../src/upstream/guard.js';
import { startGateway } from '../helpers/gateway.js';
import { startUpstream } from '../helpers/upstream.js';

const a = await startUpstream();
const b = await startUpstream(); // another port: another origin
const gw = await startGateway({ connections: { 'ws-1': { api: { 'base-url': `${a.url}/` } } } });
t.teardown(async () => {
  await gw.close();
  await a.stop();
  await b.stop();
});

/** Runs the step and expects inline_secret_rejected without any upstream request and without the value in the answer. */
async function refused(t: Test, request: Record<string, unknown>, field: RegExp): Promise<void> {
  const before = a.requests.length;
  const res = await gw.step({ request });
  t.equal(res.status, 400, JSON.stringify(request));
  t.equal(res.json.error.code, 'inline_secret_rejected', JSON.stringify(request));
  t.match(res.json.error.details.field, field);
  t.notMatch(JSON.stringify(res.json), /inline-value-42/, 'the inline value is not echoed');
  t.equal(a.requests.length, before, 'nothing was sent upstream');
}

t.test('every credential header of the list is refused as a literal header', async (t) => {
  for (const name of ['Cookie', 'X-Auth-Token', 'X-Goog-Api-Key', 'Private-Token', 'X-Amz-Security-Token', 'Ocp-Apim-Subscription-Key', ...CREDENTIAL_HEADERS]) {
    await refused(t, { url: `${a.url}/echo`, headers: { [name]: 'inline-value-42' } }, new RegExp(`^request\\.headers\\.${name}$`));
  }
});

t.test('credential query parameters are refused, in request.query, in the url and in a connection path', async (t) => {
  for (const name of ['api_key', 'access_token', 'key', 'token', 'API_KEY', 'client_secret']) {
    await refused(t, { url: `${a.url}/echo`, query: { [name]: 'inline-value-42' } }, new RegExp(`^request\\.query\\.${name}$`));
    await refused(t, { url: `${a.url}/echo?page=2&${name}=inline-value-42` }, /^request\.url$/);
  }
  await refused(t, { connection: 'api', path: 'echo?access_token=inline-value-42' }, /^request\.path$/);
  const ordinary = await gw.step({ request: { url: `${a.url}/echo?page=2&X-Amz-Signature=abc`, query: { keyword: 'k', tokens: 3 } } });
  t.equal(ordinary.status, 200, 'other parameters, presigned-URL signatures included, pass');
});

t.test('user:password@ in the url is refused (undici would drop it silently)', async (t) => {
  const host = new URL(a.url).host;
  await refused(t, { url: `http://alice:inline-value-42@${host}/echo` }, /^request\.url$/);
  await refused(t, { url: `http://inline-value-42@${host}/echo` }, /^request\.url$/);
  const res = await gw.step({ request: { url: `http://alice:inline-value-42@${host}/echo` } });
  t.match(res.json.error.message, /user:password@.*"basic"/, 'the message says what to use instead');
});

t.test('every credential header is removed on a cross-origin hop and kept on a same-origin one', async (t) => {
  const guard = new UpstreamGuard(['127.0.0.1']);
  t.teardown(() => guard.close());
  const headers = Object.fromEntries([...CREDENTIAL_HEADERS.map((h) => [h, `v-${h}`]), ['x-other', 'kept']]);
  const follow = async (to: string) => {
    const res = await fetchFollowingRedirects(
      { url: new URL(`${a.url}/redirect/302?to=${encodeURIComponent(to)}`), method: 'GET', headers: { ...headers } },
      { guard, timeoutMs: 5000, signal: new AbortController().signal, maxRedirects: 2 },
    );
    const chunks: Buffer[] = [];
    for await (const c of res.body) chunks.push(c as Buffer);
    return (JSON.parse(Buffer.concat(chunks).toString()) as { headers: Record<string, string> }).headers;
  };
  const cross = await follow(`${b.url}/echo`);
  for (const h of CREDENTIAL_HEADERS) t.equal(cross[h], undefined, `${h} did not cross the origin change`);
  t.equal(cross['x-other'], 'kept');
  const same = await follow(`${a.url}/echo`);
  for (const h of CREDENTIAL_HEADERS) t.equal(same[h], `v-${h}`, `${h} stays on the same origin`);
});

t.test('connection config uses the same list, and its base-url holds no credential', async (t) => {
  const config = (conn: Record<string, unknown>) => () => buildConfig({ connections: { 'ws-1': { c: conn } } }, {}, '/w');
  const problems = (conn: Record<string, unknown>) => (t.throws(config(conn)) as ConfigError).problems.join('\n');
  t.match(problems({ 'base-url': 'https://api.example/', headers: { 'X-Auth-Token': 'v' } }), /headers\.X-Auth-Token: credentials go in "auth"/);
  t.match(problems({ 'base-url': 'https://api.example/', headers: { Cookie: 'sid=1' } }), /headers\.Cookie/);
  t.match(problems({ 'base-url': 'https://user:pw@api.example/' }), /base-url: may not hold user:password@/);
  t.match(problems({ 'base-url': 'https://api.example/?api_key=v' }), /base-url: the query parameter "api_key" is a credential/);
  t.doesNotThrow(config({ 'base-url': 'https://api.example/v1/?format=json', headers: { 'X-Client': 'blobgate' } }));
});
