import { generateKeyPairSync } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { startGateway } from '../helpers/gateway.js';

/**
 * Issue 13 item 7: upstream answers a step cannot use are catalogue errors
 * (502 response_unparseable), never a 500: an inline JSON body nested
 * thousands of levels deep, and a service-account token endpoint answering
 * 200 with something that is not a token response.
 */
const answers: Record<string, { type: string; body: string | Buffer }> = {};
const server = createServer((req, res) => {
  const answer = answers[(req.url ?? '').split('?')[0]!];
  if (!answer) {
    res.statusCode = 404;
    return res.end();
  }
  req.resume();
  res.setHeader('content-type', answer.type);
  res.end(answer.body);
});
await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

const nested = (depth: number): string => '['.repeat(depth) + ']'.repeat(depth);
answers['/deep'] = { type: 'application/json', body: nested(20_000) };
answers['/at-limit'] = { type: 'application/json', body: nested(512) };
answers['/over-limit'] = { type: 'application/json', body: nested(513) };
// Brackets inside strings are text, not nesting.
answers['/brackets-in-strings'] = { type: 'application/json', body: JSON.stringify({ s: '['.repeat(5000), t: '"\\[{'.repeat(100) }) };
answers['/token-html'] = { type: 'text/html', body: '<html>sign-in page</html>' };
answers['/token-null'] = { type: 'application/json', body: 'null' };
answers['/token-number'] = { type: 'application/json', body: '{"access_token": 42}' };
answers['/token-huge'] = { type: 'application/json', body: Buffer.alloc(1024 * 1024, 0x20) };
answers['/token-ok'] = { type: 'application/json', body: '{"access_token": "ya29.good", "expires_in": "soon"}' };
answers['/api'] = { type: 'application/json', body: '{"ok": true}' };

const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
const key = (tokenPath: string) => JSON.stringify({ client_email: 'sa@test.iam.gserviceaccount.com', private_key: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(), token_uri: `${base}${tokenPath}` });
const dir = await mkdtemp(join(tmpdir(), 'bg-unusable-'));
const tokenPaths = ['/token-html', '/token-null', '/token-number', '/token-huge', '/token-ok'];
await writeFile(join(dir, 'secrets.json'), JSON.stringify({ 'ws-1': Object.fromEntries(tokenPaths.map((p) => [`sa${p.replace('/token', '')}`, key(p)])) }));
// Through a connection: a credential goes only to its connection's origin.
const gw = await startGateway({ secrets: { file: join(dir, 'secrets.json') }, connections: { 'ws-1': { api: { 'base-url': base } } } });
t.teardown(async () => {
  await gw.close();
  await new Promise<void>((r) => server.close(() => r()));
  await rm(dir, { recursive: true, force: true });
});

t.test('an inline JSON body nested 20,000 levels deep is response_unparseable, not a 500', async (t) => {
  const res = await gw.step({ request: { url: `${base}/deep` } });
  t.equal(res.status, 502);
  t.equal(res.json.error.code, 'response_unparseable');
  t.equal(res.json.error.details['max-depth'], 512);
  t.match(res.json.error.message, /response-as "text"/);
  const asText = await gw.step({ request: { url: `${base}/deep`, 'response-as': 'text' } });
  t.equal(asText.status, 200, 'as text it is a string, which serialises at any depth');
  t.equal(asText.json.body.length, 40_000);
});

t.test('512 levels inline; 513 do not; brackets inside strings do not count', async (t) => {
  const at = await gw.step({ request: { url: `${base}/at-limit` } });
  t.equal(at.status, 200);
  t.equal(JSON.stringify(at.json.body), nested(512));
  const over = await gw.step({ request: { url: `${base}/over-limit` } });
  t.equal(over.json.error.code, 'response_unparseable');
  const strings = await gw.step({ request: { url: `${base}/brackets-in-strings` } });
  t.equal(strings.status, 200, JSON.stringify(strings.json).slice(0, 200));
  t.equal(strings.json.body.s.length, 5000);
});

t.test('a token endpoint answering 200 with no usable token is response_unparseable', async (t) => {
  for (const name of ['html', 'null', 'number', 'huge']) {
    const res = await gw.step({ request: { connection: 'api', path: '/api', auth: { type: 'google-service-account', 'secret-ref': `sa-${name}`, scopes: ['s'] } } });
    t.same([res.status, res.json.error?.code], [502, 'response_unparseable'], name);
    t.match(res.json.error.message, /token endpoint answered 200/, name);
    t.notMatch(JSON.stringify(res.json), /sign-in page/, 'the answer is not echoed');
  }
});

t.test('a token answer with an unusable expires_in still works, with the default lifetime', async (t) => {
  const res = await gw.step({ request: { connection: 'api', path: '/api', auth: { type: 'google-service-account', 'secret-ref': 'sa-ok', scopes: ['s'] } } });
  t.equal(res.status, 200, JSON.stringify(res.json));
  t.same(res.json.body, { ok: true });
});
