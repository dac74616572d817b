import t from 'tap';
import { startCredentialServer } from '../helpers/credential-server.js';
import { startGateway } from '../helpers/gateway.js';
import { startUpstream } from '../helpers/upstream.js';

const up = await startUpstream();
const cs = await startCredentialServer({ bearer: 'conn-bearer-secret', apiKey: 'k', user: 'u', password: 'p' });
const gw = await startGateway(
  {
    connections: {
      'ws-1': {
        api: { 'base-url': `${up.url}/v2/`, headers: { 'X-Client': 'blobgate', 'X-Overridden': 'connection' } },
        secured: { 'base-url': cs.url, auth: { type: 'bearer', 'secret-ref': 'conn-token' } },
      },
      'ws-2': { theirs: { 'base-url': `${up.url}/` } },
    },
  },
  { env: { BLOBGATE_SECRET__WS_1__CONN_TOKEN: 'conn-bearer-secret' } },
);
t.teardown(async () => {
  await gw.close();
  await up.stop();
  await cs.stop();
});

t.test('connection + path resolves under the base URL, with connection headers under the step headers', async (t) => {
  const res = await gw.step({ request: { connection: ':api', path: '/echo?x=1', query: { y: 2 }, headers: { 'X-Overridden': 'step' } } });
  t.equal(res.status, 200, JSON.stringify(res.json));
  t.equal(res.json.body.url, '/v2/echo?x=1&y=2');
  t.equal(res.json.body.headers['x-client'], 'blobgate');
  t.equal(res.json.body.headers['x-overridden'], 'step');
});

t.test('connection auth applies; step auth would override it', async (t) => {
  const res = await gw.step({ request: { connection: 'secured', path: 'bearer' } });
  t.equal(res.status, 200);
  t.same(res.json.body, { ok: true });
});

t.test('paths that escape the connection are path_invalid', async (t) => {
  for (const path of ['//evil.example/x', 'http://evil.example/', '/../echo', '../echo', '/a/%2e%2e/echo', '/%2E%2E/x', '/a%2fb', '/a\\b', 'javascript:alert(1)']) {
    const before = up.requests.length;
    const res = await gw.step({ request: { connection: 'api', path } });
    t.equal(res.status, 400, path);
    t.equal(res.json.error.code, 'path_invalid', path);
    t.equal(up.requests.length, before, 'no upstream request');
  }
});

t.test('connections are workspace-scoped; unknown ones are invalid_request', async (t) => {
  const other = await gw.step({ request: { connection: 'theirs', path: '/echo' } });
  t.equal(other.status, 400);
  t.equal(other.json.error.code, 'invalid_request');
  t.match(other.json.error.message, /"theirs" is not a connection of workspace "ws-1"/);
  const own = await gw.step({ request: { connection: 'theirs', path: '/echo' } }, 'ws-2');
  t.equal(own.status, 200);
  const both = await gw.step({ request: { connection: 'api', url: `${up.url}/echo` } });
  t.match(both.json.error.message, /either request\.url or request\.connection/);
  const pathOnly = await gw.step({ request: { path: '/echo' } });
  t.match(pathOnly.json.error.message, /request\.path needs request\.connection/);
});
