import { request as httpRequest } from 'node:http';
import { mkdtemp, rm } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { buildApp } from '../../src/app.js';
import { buildConfig } from '../../src/config/load.js';
import { EmbeddedSecrets } from '../../src/secrets/provider.js';
import { StoreRegistry } from '../../src/storage/registry.js';
import { GoogleTokenSource } from '../../src/upstream/google-token.js';
import { UpstreamGuard } from '../../src/upstream/guard.js';
import { TOKEN_ALL, TOKEN_WS1 } from '../helpers/gateway.js';

/**
 * Every route the app registers is enumerated (fastify's onRoute hook), so a
 * route added later is tested without anyone remembering to list it: each
 * one is either public (listed here) or answers 401 to a caller without a
 * token — before its body is read, and without a word about its schema.
 */
// The share previews' token is their credential (docs/shares.md), like a signed URL's signature.
const PUBLIC = new Set(['/healthz', '/readyz', '/openapi.json', '/v1/signed/*', '/public/artifact-previews/:token', '/public/artifact-previews/:token/download']);
/** Another part of the gateway decides who may read metrics; not this test's business. */
const NOT_HERE = new Set(['/metrics']);
const BODY_METHODS = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

const dataDir = await mkdtemp(join(tmpdir(), 'bg-auth-body-'));
const config = buildConfig(
  { port: 0, tokens: [{ token: TOKEN_ALL, workspaces: ['ws-1', 'ws-2'] }, { token: TOKEN_WS1, workspaces: ['ws-1'] }] },
  { BLOBGATE_DATA_DIR: dataDir },
  dataDir,
);
const stores = await StoreRegistry.open(config);
const guard = new UpstreamGuard(config.upstream.allow);
const app = buildApp({ config, stores, guard, secrets: new EmbeddedSecrets(undefined, {}), google: new GoogleTokenSource(guard), signingSecret: 'test-signing-secret-0123456789abcdef', logger: false });
const routes: Array<{ method: string; url: string }> = [];
// Added before the app is ready: its routes are registered inside plugins, which load at ready.
app.addHook('onRoute', (route) => {
  for (const method of [route.method].flat()) routes.push({ method, url: route.url ?? route.path });
});
await app.listen({ host: '127.0.0.1', port: 0 });
const { port } = app.server.address() as AddressInfo;
t.teardown(async () => {
  await app.close();
  await guard.close();
  await stores.close();
  await rm(dataDir, { recursive: true, force: true });
});

/** A concrete path for a route: `:ws` names ws-2, which TOKEN_WS1 is not granted. Queries are nonsense on purpose. */
function concrete(url: string): string {
  const path = url.replace(':ws', 'ws-2').replace(/:[a-z]+/g, 'x.txt').replace('*', 'store/key');
  return `${path}?uri=not-a-uri&limit=nope&bogus=1`;
}

interface Answer {
  status: number;
  json: { error?: { code: string; message: string; details?: unknown } } | undefined;
}

/**
 * Sends the headers and `sent` body bytes while announcing `announced`, and
 * never sends the rest: an answer that arrives proves the server did not wait
 * for (let alone parse) the body. Bounded: no answer within 5 s fails.
 */
function send(method: string, path: string, token: string | null, body: { sent: string; announced: number } | undefined): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = { ...(token ? { authorization: `Bearer ${token}` } : {}) };
    if (body) Object.assign(headers, { 'content-type': 'application/json', 'content-length': String(body.announced) });
    const req = httpRequest({ host: '127.0.0.1', port, method, path, headers });
    const timer = setTimeout(() => {
      req.destroy();
      reject(new Error(`${method} ${path}: no answer within 5 s (the server is waiting for the body)`));
    }, 5000);
    req.once('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    req.once('response', (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.once('end', () => {
        clearTimeout(timer);
        req.destroy();
        const text = Buffer.concat(chunks).toString('utf8');
        resolve({ status: res.statusCode ?? 0, json: text ? (JSON.parse(text) as Answer['json']) : undefined });
      });
    });
    if (body) req.write(body.sent);
    else req.end();
  });
}

/** A JSON body no schema accepts, cut off after 40 of 1 MiB (limits.request-body-bytes) announced bytes. */
const BAD_BODY = { sent: '{"bogus": true, "request": {"url": 12, "x', announced: config.limits.requestBodyBytes };

t.test('every route the app registers is enumerated', async (t) => {
  const printed = [...app.printRoutes({ commonPrefix: false }).matchAll(/\(([A-Z, ]+)\)/g)].reduce((n, m) => n + m[1]!.split(',').length, 0);
  t.equal(routes.length, printed, 'onRoute saw every route fastify prints (none was registered before the hook)');
  t.ok(routes.some((r) => r.url === '/v1/workspaces/:ws/http'), 'the step route is among them');
});

for (const { method, url } of routes) {
  if (NOT_HERE.has(url)) continue;
  const path = concrete(url);
  const body = BODY_METHODS.has(method) ? BAD_BODY : undefined;
  if (PUBLIC.has(url)) {
    t.test(`${method} ${url} is public: no 401 without a token`, async (t) => {
      const res = await send(method, path, null, body);
      t.not(res.status, 401);
      if (url === '/v1/signed/*' && method === 'GET') t.equal(res.json?.error?.code, 'signature_invalid', 'the signature is the credential');
    });
    continue;
  }
  t.test(`${method} ${url}: 401 before the body, whatever the body and query`, async (t) => {
    for (const token of [null, 'not-a-valid-token-at-all']) {
      const res = await send(method, path, token, body);
      t.equal(res.status, 401, `token ${token ?? 'absent'}`);
      if (method === 'HEAD') continue;
      t.equal(res.json?.error?.code, 'unauthorized');
      t.notMatch(JSON.stringify(res.json), /bogus|field|schema|uri/i, 'nothing about the body or query leaks');
    }
  });
  if (url.includes(':ws')) {
    t.test(`${method} ${url}: a token not granted :ws is 403 before the body`, async (t) => {
      const res = await send(method, path, TOKEN_WS1, body);
      t.equal(res.status, 403);
      if (method !== 'HEAD') t.equal(res.json?.error?.code, 'forbidden');
    });
  }
}

t.test('with a valid token the same bad requests are answered on their merits', async (t) => {
  const whole = (text: string) => ({ sent: text, announced: Buffer.byteLength(text) });
  const step = await send('POST', '/v1/workspaces/ws-1/http', TOKEN_WS1, whole('{"bogus": true}'));
  t.equal(step.status, 400, 'the body is parsed and refused only once the token is known');
  t.equal(step.json?.error?.code, 'invalid_request');
  const url = await send('POST', '/v1/resources/url', TOKEN_WS1, whole('{"uri": "res://v1/ws/ws-2/file/blob/retained/x"}'));
  t.equal(url.status, 403, 'a res:// URI is checked against the grant after parsing');
  t.equal(url.json?.error?.code, 'forbidden');
});
