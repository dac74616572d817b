import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { startCredentialServer } from '../helpers/credential-server.js';
import { startGateway } from '../helpers/gateway.js';

/**
 * A real upstream for destination checks:
 *   …/echo                       the request (url, headers) as JSON
 *   …/bounce?to=<url>            302 to <url>; with copy=1 the incoming query (minus to/copy/move) is
 *                                appended, with move=<param> that parameter's value goes in ?moved=
 */
async function startBouncer() {
  const requests: Array<{ url: string; headers: IncomingMessage['headers'] }> = [];
  const server = createServer((req, res) => {
    requests.push({ url: req.url ?? '', headers: req.headers });
    const url = new URL(req.url ?? '/', 'http://x');
    if (url.pathname.endsWith('/bounce')) {
      const to = new URL(url.searchParams.get('to') ?? '/');
      const move = url.searchParams.get('move');
      if (move !== null) to.searchParams.set('moved', url.searchParams.get(move) ?? '');
      if (url.searchParams.get('copy') === '1') for (const [k, v] of url.searchParams) if (!['to', 'copy', 'move'].includes(k)) to.searchParams.append(k, v);
      res.statusCode = 302;
      res.setHeader('location', to.toString());
      return res.end();
    }
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify({ url: req.url, headers: req.headers }));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    requests,
    stop: () => new Promise<void>((r) => server.close(() => r())),
  };
}

const a = await startBouncer();
const b = await startBouncer(); // another port: another origin
const cs = await startCredentialServer({ bearer: 'unused-bearer', apiKey: 'unused-key', user: 'u', password: 'p' });
const SA = JSON.stringify(cs.serviceAccount);
const dir = await mkdtemp(join(tmpdir(), 'bg-dest-'));
const secretsFile = join(dir, 'secrets.json');
await writeFile(
  secretsFile,
  JSON.stringify({
    'ws-1': {
      plain: 'plain-secret-value-0001',
      bound: { value: 'bound-secret-value-0002', hosts: [`${a.url}/allowed/`] },
      'bound-to-b': { value: 'bound-b-secret-0003', hosts: [`${b.url}/`] },
      'sa-api-only': { value: SA, hosts: [`${cs.url}/google`] },
      'sa-bound': { value: SA, hosts: [`${cs.url}/google`, `${cs.url}/token`] },
      broken: { value: 'broken-secret-value-0004', hosts: ['ftp://files.example/'] },
    },
  }),
);
const gw = await startGateway(
  {
    secrets: { file: secretsFile },
    connections: {
      'ws-1': {
        a: { 'base-url': `${a.url}/api/`, auth: { type: 'bearer', 'secret-ref': 'plain' } },
        'a-key': { 'base-url': `${a.url}/`, auth: { type: 'api-key', 'secret-ref': 'plain', query: 'key' } },
        'a-bound-to-b': { 'base-url': `${a.url}/`, auth: { type: 'bearer', 'secret-ref': 'bound-to-b' } },
        'a-plain': { 'base-url': `${a.url}/` },
      },
    },
  },
  { env: { BLOBGATE_SECRET__WS_1__FROM_ENV: 'env-secret-value-0005', BLOBGATE_SECRET_HOSTS__WS_1__FROM_ENV: `${a.url}/env/, api.example.com` } },
);
t.teardown(async () => {
  await gw.close();
  await a.stop();
  await b.stop();
  await cs.stop();
});

const bearer = (ref: string) => ({ type: 'bearer', 'secret-ref': ref });

t.test('a plain secret on a raw url is secret_destination_refused by default, before any request', async (t) => {
  const before = a.requests.length;
  const res = await gw.step({ request: { url: `${a.url}/echo`, auth: bearer('plain') } });
  t.equal(res.status, 403);
  t.equal(res.json.error.code, 'secret_destination_refused');
  t.match(res.json.error.message, /"plain".*connection.*hosts/);
  t.equal(a.requests.length, before, 'nothing was sent');
  t.notMatch(JSON.stringify(res.json), /plain-secret-value/);
});

t.test("a plain secret used through a connection goes to the connection's origin", async (t) => {
  const res = await gw.step({ request: { connection: 'a', path: 'echo' } });
  t.equal(res.status, 200, JSON.stringify(res.json));
  t.equal(res.json.body.headers.authorization, 'Bearer plain-secret-value-0001');
  const stepAuth = await gw.step({ request: { connection: 'a-plain', path: 'echo', auth: bearer('plain') } });
  t.equal(stepAuth.json.body.headers.authorization, 'Bearer plain-secret-value-0001', 'step auth on a connection step is bound to the connection too');
});

t.test('a secret with hosts goes only to those destinations', async (t) => {
  const ok = await gw.step({ request: { url: `${a.url}/allowed/x/echo`, auth: bearer('bound') } });
  t.equal(ok.status, 200, JSON.stringify(ok.json));
  t.equal(ok.json.body.headers.authorization, 'Bearer bound-secret-value-0002');
  for (const url of [`${a.url}/other/echo`, `${a.url}/allowedX/echo`, `${b.url}/allowed/echo`, `${a.url}/allowed/..%2Fother/echo`]) {
    const before = a.requests.length + b.requests.length;
    const res = await gw.step({ request: { url, auth: bearer('bound') } });
    t.equal(res.status, 403, url);
    t.equal(res.json.error.code, 'secret_destination_refused', url);
    t.same(res.json.error.details.allowed, [[`${a.url}/allowed/`]], 'the destinations are named');
    t.equal(a.requests.length + b.requests.length, before, 'nothing was sent');
  }
});

t.test("a connection's secret never goes beyond the connection's origin, whatever its hosts say", async (t) => {
  const before = a.requests.length;
  const res = await gw.step({ request: { connection: 'a-bound-to-b', path: 'echo' } });
  t.equal(res.status, 403);
  t.equal(res.json.error.code, 'secret_destination_refused');
  t.equal(a.requests.length, before);
  const direct = await gw.step({ request: { url: `${b.url}/echo`, auth: bearer('bound-to-b') } });
  t.equal(direct.json.body.headers.authorization, 'Bearer bound-b-secret-0003', 'on a raw url it goes to its host');
});

t.test('a redirect outside the destinations drops the credential: headers and query api-keys alike', async (t) => {
  const sameOriginOut = await gw.step({ request: { url: `${a.url}/allowed/bounce?to=${encodeURIComponent(`${a.url}/other/echo`)}`, auth: bearer('bound') } });
  t.equal(sameOriginOut.status, 200, JSON.stringify(sameOriginOut.json));
  t.equal(sameOriginOut.json.body.url, '/other/echo');
  t.equal(sameOriginOut.json.body.headers.authorization, undefined, 'same origin, outside the prefix: no Authorization');

  const copied = await gw.step({ request: { connection: 'a-key', path: `bounce?copy=1&to=${encodeURIComponent(`${b.url}/echo`)}` } });
  t.equal(copied.status, 200, JSON.stringify(copied.json));
  t.equal(a.requests.at(-1)?.url.includes('key=plain-secret-value-0001'), true, 'the first hop carried the key');
  t.equal(new URL(copied.json.body.url, b.url).searchParams.get('key'), null, 'the other origin did not get the key parameter');
  t.notMatch(JSON.stringify(b.requests), /plain-secret-value/, 'nor the value anywhere');

  const before = b.requests.length;
  const moved = await gw.step({ request: { connection: 'a-key', path: `bounce?move=key&to=${encodeURIComponent(`${b.url}/echo`)}` } });
  t.equal(moved.status, 403);
  t.equal(moved.json.error.code, 'secret_destination_refused', 'a target that still holds the secret is not followed');
  t.equal(b.requests.length, before, 'the other origin got no request');
  t.notMatch(JSON.stringify(moved.json), /plain-secret-value/);

  const sameOrigin = await gw.step({ request: { connection: 'a-key', path: `bounce?copy=1&to=${encodeURIComponent(`${a.url}/echo`)}` } });
  t.equal(new URL(sameOrigin.json.body.url, a.url).searchParams.get('key'), 'plain-secret-value-0001', 'a same-origin hop keeps it');
});

t.test('a service-account key with hosts mints only at a token endpoint among them', async (t) => {
  const scopes = ['https://www.googleapis.com/auth/drive.readonly'];
  const minted = cs.tokenRequests.length;
  const refused = await gw.step({ request: { url: `${cs.url}/google`, auth: { type: 'google-service-account', 'secret-ref': 'sa-api-only', scopes } } });
  t.equal(refused.status, 403);
  t.equal(refused.json.error.code, 'secret_destination_refused');
  t.match(refused.json.error.message, /token endpoint/);
  t.equal(cs.tokenRequests.length, minted, 'no assertion was sent to the token endpoint');
  const ok = await gw.step({ request: { url: `${cs.url}/google`, auth: { type: 'google-service-account', 'secret-ref': 'sa-bound', scopes } } });
  t.equal(ok.status, 200, JSON.stringify(ok.json));
  t.same(ok.json.body, { ok: true });
});

t.test('environment secrets take their destinations from BLOBGATE_SECRET_HOSTS__…', async (t) => {
  const ok = await gw.step({ request: { url: `${a.url}/env/echo`, auth: bearer('from-env') } });
  t.equal(ok.json.body.headers.authorization, 'Bearer env-secret-value-0005');
  const refused = await gw.step({ request: { url: `${b.url}/env/echo`, auth: bearer('from-env') } });
  t.equal(refused.json.error.code, 'secret_destination_refused');
  t.same(refused.json.error.details.allowed, [[`${a.url}/env/`, 'https://api.example.com/']]);
});

t.test('auth.header may not name a hop-by-hop, forbidden or transport header', async (t) => {
  for (const header of ['Host', 'Content-Length', 'Cookie', 'Transfer-Encoding', 'Connection', 'Proxy-Foo', 'Sec-Fetch-Mode', 'Content-Type', 'Range', 'Origin', 'bad header', 'x:y']) {
    const res = await gw.step({ request: { connection: 'a-plain', path: 'echo', auth: { type: 'api-key', 'secret-ref': 'plain', header } } });
    t.equal(res.status, 400, header);
    t.equal(res.json.error.code, 'invalid_request', header);
    t.equal(res.json.error.details.field, 'request.auth.header');
  }
  const ok = await gw.step({ request: { connection: 'a-plain', path: 'echo', auth: { type: 'api-key', 'secret-ref': 'plain', header: 'X-Custom-Key' } } });
  t.equal(ok.json.body.headers['x-custom-key'], 'plain-secret-value-0001');
});

t.test('a malformed hosts entry names the entry and never the value', async (t) => {
  const res = await gw.step({ request: { url: `${a.url}/echo`, auth: bearer('broken') } });
  t.equal(res.status, 500);
  t.equal(res.json.error.code, 'internal');
  t.match(res.json.error.message, /"ws-1"\."broken".*ftp:\/\/files\.example\/.*http or https/);
  t.notMatch(JSON.stringify(res.json), /broken-secret-value/);
});

t.test('secrets.allow-plain-on-url lets a plain secret go to the step url, never across an origin change', async (t) => {
  const gw2 = await startGateway({ secrets: { file: secretsFile, 'allow-plain-on-url': true } });
  t.teardown(() => gw2.close());
  const ok = await gw2.step({ request: { url: `${a.url}/echo`, auth: bearer('plain') } });
  t.equal(ok.json.body.headers.authorization, 'Bearer plain-secret-value-0001');
  const cross = await gw2.step({ request: { url: `${a.url}/bounce?copy=1&to=${encodeURIComponent(`${b.url}/echo`)}`, auth: { type: 'api-key', 'secret-ref': 'plain', query: 'token' } } });
  t.equal(cross.status, 200, JSON.stringify(cross.json));
  t.equal(new URL(cross.json.body.url, b.url).searchParams.get('token'), null, 'the query api-key did not cross');
  const bound = await gw2.step({ request: { url: `${a.url}/other/echo`, auth: bearer('bound') } });
  t.equal(bound.json.error.code, 'secret_destination_refused', 'the switch does not loosen a secret with hosts');
});
