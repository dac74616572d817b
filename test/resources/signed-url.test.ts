import t from 'tap';
import { collect, patternChunk } from '../helpers/bytes.js';
import { startGateway } from '../helpers/gateway.js';
import { startUpstream } from '../helpers/upstream.js';

const gw = await startGateway({ signing: { 'min-ttl-seconds': 1 } });
const strict = await startGateway();
const up = await startUpstream();
t.teardown(async () => {
  await gw.close();
  await strict.close();
  await up.stop();
});

const SIZE = 5000;
const stored = await gw.step({ request: { url: `${up.url}/bytes/${SIZE}/report.bin` }, persist: { type: 'blob' } });
const uri: string = stored.json.uri;

async function fetchBytes(url: string, headers: Record<string, string> = {}): Promise<{ status: number; headers: Headers; body: Buffer }> {
  const res = await fetch(url, { headers });
  return { status: res.status, headers: res.headers, body: await collect(res.body as unknown as AsyncIterable<Uint8Array>) };
}

t.test('a signed URL serves the bytes without an API token, Range included', async (t) => {
  const signed = await gw.call('POST', '/v1/resources/url', { uri, 'ttl-seconds': 120 });
  t.equal(signed.status, 200);
  t.match(signed.json.url, new RegExp(`^${gw.url}/v1/signed/retained/workspaces/ws-1/persist/`));
  const expiresIn = Date.parse(signed.json['expires-at']) - Date.now();
  t.ok(expiresIn > 110_000 && expiresIn <= 120_000, 'expires-at is ttl from now');
  const res = await fetchBytes(signed.json.url);
  t.equal(res.status, 200);
  t.same(res.body, patternChunk(0, SIZE));
  t.equal(res.headers.get('content-disposition'), null);
  const ranged = await fetchBytes(signed.json.url, { range: 'bytes=-100' });
  t.equal(ranged.status, 206);
  t.same(ranged.body, patternChunk(0, SIZE).subarray(SIZE - 100));
});

t.test('download: true sets an attachment disposition, with the filename asked for', async (t) => {
  const a = await gw.call('POST', '/v1/resources/url', { uri, download: true });
  t.equal((await fetchBytes(a.json.url)).headers.get('content-disposition'), `attachment; filename="report.bin"; filename*=UTF-8''report.bin`);
  const b = await gw.call('POST', '/v1/resources/url', { uri, download: true, filename: 'Rapport é.bin' });
  t.equal((await fetchBytes(b.json.url)).headers.get('content-disposition'), `attachment; filename="Rapport _.bin"; filename*=UTF-8''Rapport%20%C3%A9.bin`);
});

t.test('a tampered URL is refused with 403', async (t) => {
  const { json } = await gw.call('POST', '/v1/resources/url', { uri, 'ttl-seconds': 120 });
  const url = new URL(json.url);
  const variants: Array<[string, (u: URL) => void]> = [
    ['signature changed', (u) => u.searchParams.set('signature', (u.searchParams.get('signature') ?? '').replace(/^./, (c) => (c === 'a' ? 'b' : 'a')))],
    ['signature removed', (u) => u.searchParams.delete('signature')],
    ['expiry extended', (u) => u.searchParams.set('expires', String(Number(u.searchParams.get('expires')) + 3600))],
    ['path changed', (u) => (u.pathname = u.pathname.replace('report.bin', 'other.bin'))],
    ['store changed', (u) => (u.pathname = u.pathname.replace('/retained/', '/ephemeral/'))],
    ['download added', (u) => u.searchParams.set('download', '1')],
  ];
  for (const [name, mutate] of variants) {
    const u = new URL(url);
    mutate(u);
    const res = await fetchBytes(u.toString());
    t.equal(res.status, 403, name);
    t.equal(JSON.parse(res.body.toString()).error.code, 'signature_invalid', name);
  }
});

t.test('an expired URL is refused with 403', async (t) => {
  const { json } = await gw.call('POST', '/v1/resources/url', { uri, 'ttl-seconds': 1 });
  t.equal((await fetchBytes(json.url)).status, 200, 'valid before expiry');
  await new Promise((r) => setTimeout(r, 2100));
  const res = await fetchBytes(json.url);
  t.equal(res.status, 403);
  t.match(JSON.parse(res.body.toString()).error.message, /expired/);
});

t.test('ttl outside 60..604800 s is invalid_request', async (t) => {
  const s = await strict.step({ request: { url: `${up.url}/bytes/5` }, persist: { type: 'blob' } });
  for (const ttl of [59, 604_801, 0, -5]) {
    const res = await strict.call('POST', '/v1/resources/url', { uri: s.json.uri, 'ttl-seconds': ttl });
    t.equal(res.status, 400, String(ttl));
    t.equal(res.json.error.code, 'invalid_request');
    t.match(res.json.error.message, /60 to 604800/);
  }
  for (const ttl of [60, 604_800]) {
    t.equal((await strict.call('POST', '/v1/resources/url', { uri: s.json.uri, 'ttl-seconds': ttl })).status, 200, String(ttl));
  }
  const dflt = await strict.call('POST', '/v1/resources/url', { uri: s.json.uri });
  const life = Date.parse(dflt.json['expires-at']) - Date.now();
  t.ok(life > 890_000 && life <= 900_000, 'default lifetime 900 s');
});

t.test('a URL for a missing resource is not_found', async (t) => {
  const res = await gw.call('POST', '/v1/resources/url', { uri: uri.replace('report.bin', 'missing.bin') });
  t.equal(res.status, 404);
  t.equal(res.json.error.code, 'not_found');
});
