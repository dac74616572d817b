import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import t from 'tap';
import { sweepExpiredShares } from '../../src/shares/share-store.js';
import { shareRecordKey, shareTokenHash } from '../../src/shares/token.js';
import { startGateway, TOKEN_WS1 } from '../helpers/gateway.js';
import { until } from '../helpers/until.js';
import { getPublic, putBytes, revoke, share, writeEphemeral } from './share-helpers.js';

const gw = await startGateway();
t.teardown(() => gw.close());

const MARKDOWN = '# Creator report\n\nFollowers: 1200\n';
const mdUri = await putBytes(gw, 'report.md', 'text/markdown', MARKDOWN);
// The seed writes the platform's result form of the URI; blobgate answers the file form. Both name the blob.
const seedUri = mdUri.replace('/file/blob/', '/result/blob/');
const DAY = 86_400;

t.test("the seed's create body verbatim: 201 with token, publicUrl, expiresAt and (text-like, allowDownload) publicDownloadUrl", async (t) => {
  const before = Date.now();
  const res = await share(gw, { uri: seedUri, title: 'Creator preview', ttlSeconds: 3600, claimUrl: '/signup?source=creator-preview', allowDownload: true });
  t.equal(res.status, 201, JSON.stringify(res.json));
  const { token, publicUrl, publicDownloadUrl, expiresAt, claimUrl, title } = res.json;
  t.match(token, /^[A-Za-z0-9_-]{43}$/, '256 random bits, base64url');
  t.equal(publicUrl, `${gw.url}/public/artifact-previews/${token}`);
  t.equal(publicDownloadUrl, `${publicUrl}/download`);
  const ttl = Date.parse(expiresAt) - before;
  t.ok(ttl >= 3_599_000 && ttl <= 3_601_000, `expiresAt is an hour out (${ttl} ms)`);
  t.equal(claimUrl, '/signup?source=creator-preview');
  t.equal(title, 'Creator preview');
  const page = await getPublic(publicUrl);
  t.equal(page.status, 200);
  t.match(page.text, '<h1>Creator report</h1>');
  t.match(page.text, 'href="/signup?source=creator-preview"', 'the CTA points to the relative claim path');
  const download = await getPublic(publicDownloadUrl);
  t.equal(download.status, 200);
  t.equal(download.text, MARKDOWN);
  t.match(download.headers.get('content-disposition'), /^attachment; filename="report.md"/);
  t.equal(download.headers.get('cache-control'), 'no-store');
});

t.test('ttlSeconds: 30 days when left out, 60 s to 90 days accepted, outside refused by name', async (t) => {
  const dflt = await share(gw, { uri: mdUri });
  t.equal(dflt.status, 201);
  const days = (Date.parse(dflt.json.expiresAt) - Date.now()) / 1000 / DAY;
  t.ok(days > 29.99 && days <= 30, `default ${days} days`);
  t.equal((await share(gw, { uri: mdUri, ttlSeconds: 60 })).status, 201);
  t.equal((await share(gw, { uri: mdUri, ttlSeconds: 90 * DAY })).status, 201);
  for (const ttlSeconds of [59, 0, -1, 90 * DAY + 1]) {
    const res = await share(gw, { uri: mdUri, ttlSeconds });
    t.equal(res.status, 400, `ttlSeconds ${ttlSeconds}`);
    t.equal(res.json.error.code, 'invalid_request');
    t.equal(res.json.error.details.field, 'ttlSeconds');
    t.match(res.json.error.message, /from 60 .* to 7776000/);
  }
  const fractional = await share(gw, { uri: mdUri, ttlSeconds: 60.5 });
  t.equal(fractional.status, 400);
});

t.test('claimUrl: only a same-origin relative path is kept; unsafe values are ignored, not refused', async (t) => {
  for (const claimUrl of ['https://evil.example/x', '//evil.example/x', '/\\evil.example', 'javascript:alert(1)', 'signup', '/\tx', '/x\ny', '/.//evil.example/x', '/a/..//evil.example', '/%2e//evil.example']) {
    const res = await share(gw, { uri: mdUri, claimUrl });
    t.equal(res.status, 201, JSON.stringify(claimUrl));
    t.equal(res.json.claimUrl, undefined, `${JSON.stringify(claimUrl)} is not kept`);
    const page = await getPublic(res.json.publicUrl);
    t.notMatch(page.text, 'evil.example');
    t.notMatch(page.text, 'class="cta"', 'no CTA without a safe claim path');
  }
  const kept = await share(gw, { uri: mdUri, claimUrl: '/claim/"><b>x</b>?a=1#top' });
  t.equal(kept.json.claimUrl, '/claim/%22%3E%3Cb%3Ex%3C/b%3E?a=1#top', 'kept in its URL-encoded form');
});

t.test('publicDownloadUrl only for text-like artifacts, and only when allowDownload is true', async (t) => {
  const types: Array<[string, string, boolean]> = [
    ['a.edn', 'application/edn', true],
    ['a.csv', 'text/csv', true],
    ['a.json', 'application/json', true],
    ['a.xml', 'application/xml', true],
    ['a.js', 'application/javascript', true],
    ['a.form', 'application/x-www-form-urlencoded', true],
    ['a.txt', 'text/plain', true],
    ['a.html', 'text/html', false],
    ['a.svg', 'image/svg+xml', false],
    ['a.png', 'image/png', false],
    ['a.pdf', 'application/pdf', false],
  ];
  for (const [name, type, downloadable] of types) {
    const uri = await putBytes(gw, name, type, 'x=1');
    const res = await share(gw, { uri, allowDownload: true });
    t.equal(res.status, 201);
    t.equal(res.json.publicDownloadUrl !== undefined, downloadable, `${type}: download offered ${downloadable}`);
    // The download route decides on its own too, for a link made up by hand.
    const direct = await getPublic(`${res.json.publicUrl}/download`);
    t.equal(direct.status, downloadable ? 200 : 404, `${type} download route`);
  }
  const off = await share(gw, { uri: mdUri });
  t.equal(off.json.publicDownloadUrl, undefined, 'allowDownload defaults to false');
  const refused = await getPublic(`${off.json.publicUrl}/download`);
  t.equal(refused.status, 404);
  t.equal(JSON.parse(refused.text).error.code, 'not_found');
});

t.test('the workspace comes from X-Breyta-Workspace and is checked against the token', async (t) => {
  const missing = await gw.call('POST', '/api/resources/shares', { uri: mdUri });
  t.equal(missing.status, 400);
  t.equal(missing.json.error.code, 'invalid_request');
  t.match(missing.json.error.message, /x-breyta-workspace/i);
  const notGranted = await share(gw, { uri: mdUri }, { ws: 'ws-2', token: TOKEN_WS1 });
  t.equal(notGranted.status, 403);
  t.equal(notGranted.json.error.code, 'forbidden');
  const noToken = await gw.call('POST', '/api/resources/shares', { uri: mdUri }, { token: null, headers: { 'x-breyta-workspace': 'ws-1' } });
  t.equal(noToken.status, 401);
  t.equal((await share(gw, { uri: mdUri, extra: 1 })).status, 400, 'unknown fields are refused');
});

t.test('hostile tenant: a token of workspace A cannot share a blob of B', async (t) => {
  const other = await putBytes(gw, 'secret.md', 'text/markdown', '# B only', 'ws-2');
  const viaA = await share(gw, { uri: other }, { ws: 'ws-1', token: TOKEN_WS1 });
  t.equal(viaA.status, 403, 'the uri names a workspace the token is not granted');
  t.equal(viaA.json.error.code, 'forbidden');
  const mixed = await share(gw, { uri: other }, { ws: 'ws-1' });
  t.equal(mixed.status, 400, 'a token of both may not share B while acting as A');
  t.equal(mixed.json.error.details.field, 'uri');
  const v1 = await gw.call('POST', '/v1/workspaces/ws-2/shares', { uri: other }, { token: TOKEN_WS1 });
  t.equal(v1.status, 403);
});

t.test('a resource that is absent is not_found; an expired ephemeral one is gone', async (t) => {
  const absent = await share(gw, { uri: mdUri.replace('report.md', 'nothing.md') });
  t.equal(absent.status, 404);
  t.equal(absent.json.error.code, 'not_found');
  const expired = await writeEphemeral(gw, 'tmp/old.txt', 'old', new Date(Date.now() - 1000));
  const res = await share(gw, { uri: expired });
  t.equal(res.status, 410);
  t.equal(res.json.error.code, 'gone');
  const bad = await share(gw, { uri: 'https://example.com/x' });
  t.equal(bad.json.error.code, 'invalid_request');
});

t.test('the ephemeral blob’s expiry ends its share', async (t) => {
  const expiresAt = new Date(Date.now() + 1500);
  const uri = await writeEphemeral(gw, 'tmp/soon.txt', 'short-lived', expiresAt);
  const res = await share(gw, { uri, ttlSeconds: 3600 });
  t.equal(res.status, 201);
  t.equal(res.json.expiresAt, expiresAt.toISOString(), 'the share never outlives the blob');
  t.equal((await getPublic(res.json.publicUrl)).status, 200);
  await until('the preview is gone with its blob', async () => (await getPublic(res.json.publicUrl)).status === 404);
  const gone = await getPublic(res.json.publicUrl);
  t.equal(JSON.parse(gone.text).error.code, 'not_found');
});

t.test('the /v1/workspaces/:ws/shares form', async (t) => {
  const res = await gw.call('POST', '/v1/workspaces/ws-1/shares', { uri: mdUri, allowDownload: true }, { token: TOKEN_WS1 });
  t.equal(res.status, 201);
  t.ok(res.json.publicDownloadUrl);
  const wrong = await gw.call('DELETE', `/v1/workspaces/ws-2/shares/${res.json.token}`);
  t.equal(wrong.status, 404, "another workspace's path does not find it");
  const del = await gw.call('DELETE', `/v1/workspaces/ws-1/shares/${res.json.token}`, undefined, { token: TOKEN_WS1 });
  t.equal(del.status, 204);
  t.equal((await getPublic(res.json.publicUrl)).status, 404);
});

t.test('the record is found by the token’s hash; the token itself is stored nowhere', async (t) => {
  const res = await share(gw, { uri: mdUri, title: 'Hashed', allowDownload: true });
  const { token } = res.json;
  const record = JSON.parse((await gw.stores.get(gw.config.tiers.retained.store).records!.get(shareRecordKey(token)))!.toString('utf8'));
  t.match(record, { version: 1, workspace: 'ws-1', uri: mdUri, title: 'Hashed', allowDownload: true });
  t.equal(shareRecordKey(token), `shares/${shareTokenHash(token)}.json`);
  const files = (await readdir(gw.dataDir, { recursive: true, withFileTypes: true })).filter((e) => e.isFile());
  for (const f of files) {
    const text = (await readFile(join(f.parentPath, f.name))).toString('latin1');
    t.notOk(text.includes(token), `${f.name} does not hold the token`);
  }
});

t.test('revoke: at once, only by the share’s workspace; then both public URLs are 404', async (t) => {
  const res = await share(gw, { uri: mdUri, allowDownload: true });
  const { token, publicUrl, publicDownloadUrl } = res.json;
  const asB = await revoke(gw, token, { ws: 'ws-2' });
  t.equal(asB.status, 404, 'a share of ws-1 is not found from ws-2');
  t.equal(asB.json.error.code, 'not_found');
  const notGranted = await revoke(gw, token, { ws: 'ws-2', token: TOKEN_WS1 });
  t.equal(notGranted.status, 403);
  t.equal((await getPublic(publicUrl)).status, 200, 'still live after both failed revokes');
  const ok = await revoke(gw, token);
  t.equal(ok.status, 204);
  for (const url of [publicUrl, publicDownloadUrl]) {
    const after = await getPublic(url);
    t.equal(after.status, 404, url);
    t.equal(JSON.parse(after.text).error.code, 'not_found');
    t.equal(after.headers.get('cache-control'), 'no-store');
  }
  t.equal((await revoke(gw, token)).status, 404, 'a second revoke finds nothing');
});

t.test('unknown, malformed and expired tokens are 404 on both public routes', async (t) => {
  const records = gw.stores.get(gw.config.tiers.retained.store).records!;
  const res = await share(gw, { uri: mdUri, allowDownload: true });
  const key = shareRecordKey(res.json.token);
  const record = JSON.parse((await records.get(key))!.toString('utf8'));
  await records.put(key, Buffer.from(JSON.stringify({ ...record, expiresAt: new Date(Date.now() - 1).toISOString() })));
  const tokens = [res.json.token, 'A'.repeat(43), 'short', '..%2f..%2fetc', 'x'.repeat(90)];
  for (const token of tokens) {
    for (const suffix of ['', '/download']) {
      const r = await getPublic(`${gw.url}/public/artifact-previews/${token}${suffix}`);
      t.equal(r.status, 404, `${token.slice(0, 12)}${suffix}`);
      t.equal(JSON.parse(r.text).error.code, 'not_found');
    }
  }
  // Past the router's parameter length (100): the malformed-path answer of every route, in the catalogue's shape.
  const long = await getPublic(`${gw.url}/public/artifact-previews/${'x'.repeat(200)}`);
  t.equal(long.status, 400);
  t.equal(JSON.parse(long.text).error.code, 'invalid_request');
  t.equal(await records.get(key), undefined, 'an expired record is removed when it is next looked up');
});

t.test('the sweep removes expired share records and leaves live ones', async (t) => {
  const records = gw.stores.get(gw.config.tiers.retained.store).records!;
  const live = await share(gw, { uri: mdUri });
  const old = await share(gw, { uri: mdUri });
  const key = shareRecordKey(old.json.token);
  const record = JSON.parse((await records.get(key))!.toString('utf8'));
  await records.put(key, Buffer.from(JSON.stringify({ ...record, expiresAt: new Date(Date.now() - 1).toISOString() })));
  const before = (await records.list('shares/', { limit: 1000 })).keys.length;
  t.equal(await sweepExpiredShares(records), 1);
  t.equal((await records.list('shares/', { limit: 1000 })).keys.length, before - 1);
  t.equal(await records.get(key), undefined);
  t.equal((await getPublic(live.json.publicUrl)).status, 200);
});

t.test('the download ignores Range and sends no ETag or Accept-Ranges', async (t) => {
  const res = await share(gw, { uri: mdUri, allowDownload: true });
  const r = await fetch(res.json.publicDownloadUrl, { headers: { range: 'bytes=0-1' } });
  t.equal(r.status, 200);
  t.equal(await r.text(), MARKDOWN);
  t.equal(r.headers.get('etag'), null);
  t.equal(r.headers.get('accept-ranges'), null);
  t.equal(r.headers.get('content-security-policy'), 'sandbox');
  t.equal(r.headers.get('x-content-type-options'), 'nosniff');
});

t.test('public links are written with public-url when it is configured', async (t) => {
  const behind = await startGateway({ 'public-url': 'https://share.example/blobgate' });
  t.teardown(() => behind.close());
  const uri = await putBytes(behind, 'p.txt', 'text/plain', 'p');
  const res = await share(behind, { uri, allowDownload: true });
  t.match(res.json.publicUrl, /^https:\/\/share\.example\/blobgate\/public\/artifact-previews\/[A-Za-z0-9_-]{43}$/);
  t.equal(res.json.publicDownloadUrl, `${res.json.publicUrl}/download`);
});
