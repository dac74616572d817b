import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { startCredentialServer } from '../helpers/credential-server.js';
import { startGateway } from '../helpers/gateway.js';

const creds = { bearer: 'bearer-secret-123456', apiKey: 'api-key-secret-7890', user: 'alice', password: 'p@ss:word-42' };
const cs = await startCredentialServer(creds);
const dir = await mkdtemp(join(tmpdir(), 'bg-secrets-'));
const secretsFile = join(dir, 'secrets.json');
await writeFile(
  secretsFile,
  JSON.stringify({
    'ws-1': { 'api-token': creds.bearer, 'api-key': creds.apiKey, 'basic-pair': `${creds.user}:${creds.password}`, 'basic-password': creds.password, 'google-sa': JSON.stringify(cs.serviceAccount) },
    'ws-2': { 'only-in-ws2': creds.bearer },
  }),
);
// Environment secrets win over the file. Plain secrets on raw URLs need the operator's opt-in (test/secrets/ covers the default).
const gw = await startGateway({ secrets: { file: secretsFile, 'allow-plain-on-url': true } }, { env: { BLOBGATE_SECRET__WS_1__FROM_ENV: creds.bearer, BLOBGATE_SECRET__WS_1__API_TOKEN: 'env-overrides-file' } });
t.teardown(async () => {
  await gw.close();
  await cs.stop();
});

const step = (path: string, auth: Record<string, unknown>, ws = 'ws-1') => gw.step({ request: { url: `${cs.url}${path}`, auth } }, ws);

t.test('the credential server refuses requests without the credential (the check can fail)', async (t) => {
  for (const path of ['/bearer', '/api-key-header', '/api-key-query', '/basic', '/google']) {
    const res = await gw.step({ request: { url: `${cs.url}${path}` } });
    t.equal(res.json.error.details.status, 401, path);
  }
});

t.test('bearer from a secret reference (environment first, then the file)', async (t) => {
  const env = await step('/bearer', { type: 'bearer', 'secret-ref': 'from-env' });
  t.equal(env.status, 200);
  t.same(env.json.body, { ok: true });
  const overridden = await step('/bearer', { type: 'bearer', 'secret-ref': ':api-token' });
  t.equal(overridden.json.error.details.status, 401, 'BLOBGATE_SECRET__WS_1__API_TOKEN wins over the file');
});

t.test('api-key in a header (default X-Api-Key) or a query parameter', async (t) => {
  t.equal((await step('/api-key-header', { type: 'api-key', 'secret-ref': 'api-key' })).status, 200);
  t.equal((await step('/api-key-query', { type: 'api-key', 'secret-ref': 'api-key', query: 'key' })).status, 200);
});

t.test('basic from user:password or from a username plus password secret', async (t) => {
  t.equal((await step('/basic', { type: 'basic', 'secret-ref': 'basic-pair' })).status, 200);
  t.equal((await step('/basic', { type: 'basic', 'secret-ref': 'basic-password', username: 'alice' })).status, 200);
});

t.test('google-service-account mints a token at the key token_uri, cached per scopes', async (t) => {
  const auth = { type: 'google-service-account', 'secret-ref': 'google-sa', scopes: ['https://www.googleapis.com/auth/drive.readonly'] };
  const first = await step('/google', auth);
  t.equal(first.status, 200, JSON.stringify(first.json));
  const second = await step('/google', auth);
  t.equal(second.status, 200);
  t.same(cs.tokenRequests, [{ scope: 'https://www.googleapis.com/auth/drive.readonly', aud: `${cs.url}/token` }], 'one token minted, then reused');
  const other = await step('/google', { ...auth, scopes: ['https://www.googleapis.com/auth/drive.metadata.readonly'] });
  t.equal(other.status, 200);
  t.equal(cs.tokenRequests.length, 2, 'other scopes mint another token');
});

t.test('an unknown secret reference is secret_not_found naming the reference', async (t) => {
  const res = await step('/bearer', { type: 'bearer', 'secret-ref': 'nope' });
  t.equal(res.status, 400);
  t.equal(res.json.error.code, 'secret_not_found');
  t.match(res.json.error.message, /"nope"/);
});

t.test('secrets are workspace-scoped', async (t) => {
  const res = await step('/bearer', { type: 'bearer', 'secret-ref': 'only-in-ws2' }, 'ws-1');
  t.equal(res.json.error.code, 'secret_not_found');
  const own = await step('/bearer', { type: 'bearer', 'secret-ref': 'only-in-ws2' }, 'ws-2');
  t.equal(own.status, 200);
  const envOfWs1 = await step('/bearer', { type: 'bearer', 'secret-ref': 'from-env' }, 'ws-2');
  t.equal(envOfWs1.json.error.code, 'secret_not_found', "ws-1's environment secret is not visible to ws-2");
});

t.test('inline credentials are inline_secret_rejected, in every form', async (t) => {
  const inline: Array<Record<string, unknown>> = [
    { request: { url: `${cs.url}/bearer`, auth: { type: 'bearer', token: 'x' } } },
    { request: { url: `${cs.url}/bearer`, auth: { type: 'api-key', value: 'x' } } },
    { request: { url: `${cs.url}/bearer`, auth: { type: 'basic', username: 'a', password: 'x' } } },
    { request: { url: `${cs.url}/bearer`, auth: { type: 'api-key', 'api-key': 'x' } } },
    { request: { url: `${cs.url}/bearer`, auth: { type: 'google-service-account', key: '{}' } } },
    { request: { url: `${cs.url}/bearer`, headers: { Authorization: 'Bearer x' } } },
    { request: { url: `${cs.url}/bearer`, headers: { 'proxy-authorization': 'Basic x' } } },
    { request: { url: `${cs.url}/bearer`, headers: { 'X-API-KEY': 'x' } } },
    { request: { url: `${cs.url}/bearer`, headers: { 'Api-Key': 'x' } } },
  ];
  for (const body of inline) {
    const res = await gw.step(body);
    t.equal(res.status, 400, JSON.stringify(body));
    t.equal(res.json.error.code, 'inline_secret_rejected');
    t.notMatch(JSON.stringify(res.json), /"x"|Bearer x|Basic x/, 'the inline value is not echoed');
  }
});

t.test('malformed auth objects are invalid_request', async (t) => {
  for (const auth of [{ type: 'oauth', 'secret-ref': 'a' }, { type: 'bearer' }, { type: 'google-service-account', 'secret-ref': 'google-sa' }, { type: 'bearer', 'secret-ref': 'a', colour: 1 }, 'bearer']) {
    const res = await step('/bearer', auth as Record<string, unknown>);
    t.equal(res.status, 400, JSON.stringify(auth));
    t.equal(res.json.error.code, 'invalid_request');
  }
});

t.test('the token endpoint of a service-account key goes through the SSRF guard', async (t) => {
  const evil = { ...cs.serviceAccount, token_uri: 'http://169.254.169.254/token' };
  const gw2 = await startGateway({ secrets: { 'allow-plain-on-url': true } }, { env: { BLOBGATE_SECRET__WS_1__EVIL: JSON.stringify(evil) } });
  t.teardown(() => gw2.close());
  const res = await gw2.step({ request: { url: `${cs.url}/google`, auth: { type: 'google-service-account', 'secret-ref': 'evil', scopes: ['s'] } } });
  t.equal(res.status, 403);
  t.equal(res.json.error.code, 'destination_blocked');
});
