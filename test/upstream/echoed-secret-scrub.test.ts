import { mkdtemp, writeFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import { startGateway } from '../helpers/gateway.js';

const SLASHY = 'tok/en/with/slashes/123';
const SPACEY = 'key with spaces 12345';

// An API that answers 401 and echoes what it got, in the spellings real ones use.
const upstream = createServer((req, res) => {
  res.statusCode = 401;
  const url = new URL(req.url ?? '/', 'http://x');
  const token = (req.headers.authorization ?? '').replace(/^Bearer /, '');
  const [, route, arg] = url.pathname.split('/');
  if (route === 'pad') return res.end('p'.repeat(Number(arg)) + token + 'q'.repeat(600));
  if (route === 'repeat') return res.end(token.repeat(60));
  if (route === 'json') return res.end(JSON.stringify({ got: token }).replace(/\//g, '\\/'));
  if (route === 'query') return res.end(`bad query ${url.search}`);
  if (route === 'b64') return res.end(`seen ${Buffer.from(token).toString('base64')}`);
  res.end('?');
});
await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', r));
const base = `http://127.0.0.1:${(upstream.address() as AddressInfo).port}`;
const dir = await mkdtemp(join(tmpdir(), 'bg-scrub-'));
const file = join(dir, 'secrets.json');
await writeFile(file, JSON.stringify({ 'ws-1': { slashy: { value: SLASHY, hosts: [`${base}/`] }, spacey: { value: SPACEY, hosts: [`${base}/`] } } }));
const gw = await startGateway({ secrets: { file } });
t.teardown(async () => {
  await gw.close();
  await new Promise<void>((r) => upstream.close(() => r()));
});

/** Every 8-character piece of each spelling of the secret. */
function pieces(secret: string): string[] {
  const spellings = [secret, encodeURIComponent(secret), new URLSearchParams({ v: secret }).toString().slice(2), secret.replace(/\//g, '\\/'), Buffer.from(secret).toString('base64')];
  return spellings.flatMap((s) => Array.from({ length: s.length - 7 }, (_, i) => s.slice(i, i + 8)));
}

async function assertScrubbed(t: Test, path: string, auth: Record<string, unknown>, secret: string): Promise<string> {
  const res = await gw.call('POST', '/v1/workspaces/ws-1/http', { 'flow-slug': 'f', 'step-id': 's', request: { url: `${base}${path}`, auth } });
  t.equal(res.status, 502, path);
  t.equal(res.json.error.code, 'upstream_status');
  const answer = JSON.stringify(res.json);
  const leaked = pieces(secret).filter((p) => answer.includes(p));
  t.same(leaked, [], `${path}: no piece of the secret in the answer`);
  return res.json.error.details.excerpt as string;
}

const bearer = { type: 'bearer', 'secret-ref': 'slashy' };

t.test('a secret straddling the 512-byte cut is scrubbed before the cut', async (t) => {
  for (let pad = 512 - SLASHY.length; pad <= 512; pad++) {
    const excerpt = await assertScrubbed(t, `/pad/${pad}`, bearer, SLASHY);
    t.ok(Buffer.byteLength(excerpt) <= 512, 'the excerpt stays within 512 bytes');
    t.ok(excerpt.startsWith('p'.repeat(pad)), 'the padding before the secret is kept');
  }
});

t.test('a secret cut by the read limit leaves no prefix at the end', async (t) => {
  const excerpt = await assertScrubbed(t, '/repeat', bearer, SLASHY);
  t.match(excerpt, /^(\[redacted\])+$/, 'only whole redactions remain');
});

t.test('JSON-escaped, form-encoded and base64 echoes are redacted', async (t) => {
  t.equal(await assertScrubbed(t, '/json', bearer, SLASHY), '{"got":"[redacted]"}');
  t.equal(await assertScrubbed(t, '/query', { type: 'api-key', 'secret-ref': 'spacey', query: 'k' }, SPACEY), 'bad query ?k=[redacted]');
  t.equal(await assertScrubbed(t, '/b64', bearer, SLASHY), 'seen [redacted]');
});
