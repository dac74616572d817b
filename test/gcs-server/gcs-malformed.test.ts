// The project's GCS test server rejects malformed requests the way GCS does, and keeps the
// resumable-upload edge cases (chunk rules, overlap, gaps, checksums, No-308) faithful.
// Raw HTTP only, so every status code and byte is the server's own.
import t, { type Test } from 'tap';
import { randomBytes } from 'node:crypto';
import { startGcsServer } from '../../support/servers/gcs/server.js';
import { crc32cBase64 } from '../../support/servers/gcs/crc32c.js';
import { bypassProxyForLoopback, md5b64, raw, type RawResponse, sha256 } from './util.js';

bypassProxyForLoopback();
const server = await startGcsServer();
t.teardown(() => server.stop());
const B = 'raw-bucket';
const base = server.url;
const KiB256 = 256 * 1024;

function isGcsError(t: Test, r: RawResponse, code: number, reason?: string): void {
  t.equal(r.status, code, `status ${code}`);
  t.match(r.headers.get('content-type'), /^application\/json/);
  const e = r.json().error;
  t.equal(e.code, code, 'error.code');
  t.type(e.message, 'string');
  t.equal(e.errors[0].domain, 'global');
  if (reason) t.equal(e.errors[0].reason, reason);
}

async function startSession(name: string, headers: Record<string, string> = {}, meta: object = {}): Promise<string> {
  const r = await raw(`${base}/upload/storage/v1/b/${B}/o?uploadType=resumable&name=${encodeURIComponent(name)}`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json; charset=UTF-8', ...headers },
    body: JSON.stringify(meta),
  });
  if (r.status !== 200) throw new Error(`session start: ${r.status} ${r.text()}`);
  return r.headers.get('location')!;
}

const put = (url: string, contentRange: string | undefined, body: Buffer = Buffer.alloc(0), headers: Record<string, string> = {}): Promise<RawResponse> =>
  raw(url, { method: 'PUT', headers: { ...(contentRange ? { 'Content-Range': contentRange } : {}), ...headers }, body });

t.before(async () => {
  const r = await raw(`${base}/storage/v1/b?project=test`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ name: B }) });
  if (r.status !== 200) throw new Error(`bucket create: ${r.status}`);
});

const obj = randomBytes(5000);
t.test('setup: media upload', async t => {
  const r = await raw(`${base}/upload/storage/v1/b/${B}/o?uploadType=media&name=dir%2Fobj.bin`, { method: 'POST', headers: { 'Content-Type': 'application/x-raw' }, body: obj });
  t.equal(r.status, 200);
  t.equal(r.json().md5Hash, md5b64(obj));
  t.equal(r.json().crc32c, crc32cBase64(obj));
  t.equal(r.json().size, '5000');
  t.equal(r.json().contentType, 'application/x-raw');
});

t.test('unknown bucket → 404 with a GCS JSON error, in every path form', async t => {
  for (const url of [
    `${base}/storage/v1/b/no-such-bucket`,
    `${base}/b/no-such-bucket`,
    `${base}/storage/v1/b/no-such-bucket/o`,
    `${base}/storage/v1/b/no-such-bucket/o/x?alt=media`,
  ]) {
    isGcsError(t, await raw(url), 404, 'notFound');
  }
  const up = await raw(`${base}/upload/storage/v1/b/no-such-bucket/o?uploadType=resumable&name=x`, { method: 'POST', body: '{}' });
  isGcsError(t, up, 404, 'notFound');
});

t.test('missing object → 404 (metadata, media, mediaLink, delete)', async t => {
  const enc = encodeURIComponent('dir/missing.bin');
  for (const [method, url] of [
    ['GET', `${base}/storage/v1/b/${B}/o/${enc}`],
    ['GET', `${base}/storage/v1/b/${B}/o/${enc}?alt=media`],
    ['GET', `${base}/download/storage/v1/b/${B}/o/${enc}?alt=media`],
    ['DELETE', `${base}/b/${B}/o/${enc}`],
    ['PATCH', `${base}/storage/v1/b/${B}/o/${enc}`],
  ] as const) {
    const r = await raw(url, { method, ...(method === 'PATCH' ? { body: '{}' } : {}) });
    isGcsError(t, r, 404, 'notFound');
    t.match(r.json().error.message, 'No such object');
  }
});

t.test('ranges: 206, suffix, unsatisfiable → 416', async t => {
  const url = `${base}/storage/v1/b/${B}/o/dir%2Fobj.bin?alt=media`;
  const whole = await raw(url);
  t.equal(whole.status, 200);
  t.equal(sha256(whole.body), sha256(obj));
  t.equal(whole.headers.get('x-goog-hash'), `crc32c=${crc32cBase64(obj)},md5=${md5b64(obj)}`);
  t.equal(whole.headers.get('x-goog-stored-content-encoding'), 'identity');
  t.equal(whole.headers.get('x-goog-generation'), (await raw(url.replace('?alt=media', ''))).json().generation);
  const mid = await raw(url, { headers: { Range: 'bytes=100-199' } });
  t.equal(mid.status, 206);
  t.equal(mid.headers.get('content-range'), 'bytes 100-199/5000');
  t.equal(sha256(mid.body), sha256(obj.subarray(100, 200)));
  const open = await raw(url, { headers: { Range: 'bytes=4990-' } });
  t.equal(open.status, 206);
  t.equal(sha256(open.body), sha256(obj.subarray(4990)));
  const over = await raw(url, { headers: { Range: 'bytes=4990-999999' } });
  t.equal(over.headers.get('content-range'), 'bytes 4990-4999/5000');
  const suffix = await raw(url, { headers: { Range: 'bytes=-7000' } });
  t.equal(suffix.status, 206, 'suffix longer than the object → whole object as 206');
  t.equal(sha256(suffix.body), sha256(obj));
  for (const range of ['bytes=5000-', 'bytes=9000-9100', 'bytes=-0']) {
    const r = await raw(url, { headers: { Range: range } });
    isGcsError(t, r, 416, 'requestedRangeNotSatisfiable');
    t.equal(r.headers.get('content-range'), 'bytes */5000', range);
  }
});

t.test('unknown session → 404', async t => {
  const bogus = `${base}/upload/storage/v1/b/${B}/o?uploadType=resumable&name=x&upload_id=does-not-exist`;
  isGcsError(t, await put(bogus, 'bytes 0-9/10', randomBytes(10)), 404);
  isGcsError(t, await put(bogus, 'bytes */*'), 404);
  isGcsError(t, await raw(bogus, { method: 'DELETE' }), 404);
  // a real session id under another bucket's path is unknown there too
  const loc = await startSession('moved.bin');
  isGcsError(t, await put(loc.replace(`/b/${B}/`, '/b/other-bucket/'), 'bytes */*'), 404);
  t.equal((await raw(loc, { method: 'DELETE' })).status, 499);
});

t.test('malformed Content-Range → 400 and the session is unharmed', async t => {
  const loc = await startSession('ranges.bin');
  const body = randomBytes(16);
  for (const cr of ['bytes 5-2/10', 'bytes abc', 'items 0-15/16', 'bytes 0-15/8', 'bytes 0-15', 'bytes=0-15/16', 'bytes -5/16']) {
    isGcsError(t, await put(loc, cr, body), 400);
  }
  isGcsError(t, await put(loc, 'bytes 0-99/100', body), 400); // declares 100 bytes, sends 16
  isGcsError(t, await put(loc, 'bytes */*', body), 400); // status query with a body
  t.same(server.openSessions(B).filter(s => s.name === 'ranges.bin'), [{ bucket: B, name: 'ranges.bin', received: 0 }]);
  const ok = await put(loc, 'bytes 0-15/16', body);
  t.equal(ok.status, 200);
  t.equal(ok.json().md5Hash, md5b64(body));
});

t.test('chunk rules: min size, 308 Range, overlap, gap, No-308, checksums', async t => {
  const data = randomBytes(3 * KiB256 + 1234);
  const loc = await startSession('chunks.bin', { 'X-Upload-Content-Type': 'application/x-chunks' }, { metadata: { k: 'v' } });
  isGcsError(t, await put(loc, 'bytes 0-999/*', data.subarray(0, 1000)), 400); // non-final chunk < 256 KiB
  const empty = await put(loc, 'bytes */*');
  t.equal(empty.status, 308);
  t.equal(empty.headers.get('range'), null, 'no Range before any byte arrived');

  const c1 = await put(loc, `bytes 0-${KiB256 - 1}/*`, data.subarray(0, KiB256));
  t.equal(c1.status, 308);
  t.equal(c1.headers.get('range'), `bytes=0-${KiB256 - 1}`);
  t.equal(c1.headers.get('location'), null, '308 here is not a redirect');
  t.equal(c1.body.length, 0);
  // Overlap: starts half a chunk back; the persisted half is ignored (send garbage there to prove it).
  const overlap = Buffer.concat([randomBytes(KiB256 / 2), data.subarray(KiB256, 2 * KiB256)]);
  const c2 = await put(loc, `bytes ${KiB256 / 2}-${2 * KiB256 - 1}/*`, overlap);
  t.equal(c2.status, 308);
  t.equal(c2.headers.get('range'), `bytes=0-${2 * KiB256 - 1}`);
  // Gap: starting past the persisted offset fails (503) and keeps nothing.
  isGcsError(t, await put(loc, `bytes ${3 * KiB256}-${4 * KiB256 - 1}/*`, randomBytes(KiB256)), 503);
  t.equal(server.openSessions(B).find(s => s.name === 'chunks.bin')?.received, 2 * KiB256);
  // The Go client's opt-out: 200 + X-Http-Status-Code-Override: 308, chunk POSTed.
  const c3 = await raw(loc, {
    method: 'POST',
    headers: { 'Content-Range': `bytes ${2 * KiB256}-${3 * KiB256 - 1}/*`, 'X-GUploader-No-308': 'yes' },
    body: data.subarray(2 * KiB256, 3 * KiB256),
  });
  t.equal(c3.status, 200);
  t.equal(c3.headers.get('x-http-status-code-override'), '308');
  t.equal(c3.headers.get('range'), `bytes=0-${3 * KiB256 - 1}`);
  // Final chunk with a wrong X-Goog-Hash is rejected; the session stays open.
  const last = `bytes ${3 * KiB256}-${data.length - 1}/${data.length}`;
  const wrong = await put(loc, last, data.subarray(3 * KiB256), { 'X-Goog-Hash': `crc32c=${crc32cBase64(Buffer.from('x'))}` });
  isGcsError(t, wrong, 400);
  t.match(wrong.json().error.message, 'CRC32C');
  const done = await put(loc, last, data.subarray(3 * KiB256), { 'X-Goog-Hash': `crc32c=${crc32cBase64(data)},md5=${md5b64(data)}` });
  t.equal(done.status, 200);
  const o = done.json();
  t.same([o.name, o.size, o.md5Hash, o.crc32c, o.contentType, o.metadata], ['chunks.bin', String(data.length), md5b64(data), crc32cBase64(data), 'application/x-chunks', { k: 'v' }]);
  const got = await raw(`${base}/storage/v1/b/${B}/o/chunks.bin?alt=media`);
  t.equal(sha256(got.body), sha256(data));
  // The object keeps the pieces its bytes arrived in: a range across two of them reads as one.
  const across = await raw(`${base}/storage/v1/b/${B}/o/chunks.bin?alt=media`, { headers: { Range: `bytes=${KiB256 - 10}-${2 * KiB256 + 9}` } });
  t.equal(across.status, 206);
  t.equal(sha256(across.body), sha256(data.subarray(KiB256 - 10, 2 * KiB256 + 10)));
  t.equal((await put(loc, 'bytes */*')).status, 200, 'finalized session answers 200');
  t.equal((await raw(loc, { method: 'DELETE' })).status, 400, 'finalized session cannot be cancelled');
});

t.test('"bytes */N" finalizes when N bytes are persisted; X-Upload-Content-Length is enforced', async t => {
  const data = randomBytes(KiB256);
  const loc = await startSession('exact.bin');
  t.equal((await put(loc, `bytes 0-${KiB256 - 1}/*`, data)).status, 308);
  t.equal((await put(loc, `bytes */${2 * KiB256}`)).status, 308, 'declared total not reached yet');
  isGcsError(t, await put(loc, 'bytes */100'), 400);
  const fin = await put(loc, `bytes */${KiB256}`);
  t.equal(fin.status, 200);
  t.equal(fin.json().md5Hash, md5b64(data));

  const loc2 = await startSession('declared.bin', { 'X-Upload-Content-Length': '10' });
  isGcsError(t, await put(loc2, 'bytes 0-*/*', randomBytes(11)), 400);
  const single = await put(loc2, undefined, Buffer.from('0123456789')); // no Content-Range: whole object
  t.equal(single.status, 200);
  t.equal(single.json().size, '10');
});

t.test('ifGenerationMatch on uploads and metadata → 412', async t => {
  const gen = (await raw(`${base}/storage/v1/b/${B}/o/dir%2Fobj.bin`)).json().generation as string;
  const up = (q: string): Promise<RawResponse> =>
    raw(`${base}/upload/storage/v1/b/${B}/o?uploadType=media&name=dir%2Fobj.bin&${q}`, { method: 'POST', body: 'x' });
  isGcsError(t, await up('ifGenerationMatch=0'), 412, 'conditionNotMet');
  isGcsError(t, await up(`ifGenerationMatch=${BigInt(gen) + 1n}`), 412, 'conditionNotMet');
  isGcsError(t, await raw(`${base}/upload/storage/v1/b/${B}/o?uploadType=resumable&name=dir%2Fobj.bin&ifGenerationMatch=0`, { method: 'POST', body: '{}' }), 412);
  isGcsError(t, await raw(`${base}/storage/v1/b/${B}/o/dir%2Fobj.bin?ifGenerationMatch=1`), 412);
  isGcsError(t, await raw(`${base}/storage/v1/b/${B}/o/dir%2Fobj.bin?ifMetagenerationMatch=7`, { method: 'PATCH', body: '{"metadata":{"a":"b"}}' }), 412);
  isGcsError(t, await raw(`${base}/storage/v1/b/${B}/o/dir%2Fobj.bin?ifGenerationMatch=abc`), 400);
  t.equal((await raw(`${base}/storage/v1/b/${B}/o/dir%2Fobj.bin?ifGenerationMatch=${gen}`)).status, 200);
  t.equal(sha256((await raw(`${base}/storage/v1/b/${B}/o/dir%2Fobj.bin?alt=media`)).body), sha256(obj), 'object untouched');
});

t.test('multipart: header-less media part accepted, wrong part count and bad JSON rejected', async t => {
  const media = randomBytes(3000);
  const bnd = 'b0undary42';
  const body = Buffer.concat([
    Buffer.from(`--${bnd}\r\nContent-Type: application/json\r\n\r\n{"name":"mp/from-json.bin","metadata":{"x":"1"}}\r\n--${bnd}\r\n\r\n`),
    media,
    Buffer.from(`\r\n--${bnd}--\r\n`),
  ]);
  const url = `${base}/upload/storage/v1/b/${B}/o?uploadType=multipart`;
  const ok = await raw(url, { method: 'POST', headers: { 'Content-Type': `multipart/related; boundary=${bnd}` }, body });
  t.equal(ok.status, 200);
  t.same([ok.json().name, ok.json().md5Hash, ok.json().contentType, ok.json().metadata], ['mp/from-json.bin', md5b64(media), 'application/octet-stream', { x: '1' }]);
  const one = Buffer.from(`--${bnd}\r\nContent-Type: application/json\r\n\r\n{"name":"a"}\r\n--${bnd}--\r\n`);
  isGcsError(t, await raw(url, { method: 'POST', headers: { 'Content-Type': `multipart/related; boundary=${bnd}` }, body: one }), 400);
  isGcsError(t, await raw(url, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: '{}' }), 400);
  const badJson = Buffer.concat([Buffer.from(`--${bnd}\r\nContent-Type: application/json\r\n\r\n{nope\r\n--${bnd}\r\n\r\n`), media, Buffer.from(`\r\n--${bnd}--`)]);
  isGcsError(t, await raw(`${url}&name=z`, { method: 'POST', headers: { 'Content-Type': `multipart/related; boundary=${bnd}` }, body: badJson }), 400, 'parseError');
  isGcsError(t, await raw(`${base}/upload/storage/v1/b/${B}/o?uploadType=resumable`, { method: 'POST', body: '{}' }), 400, 'required');
  isGcsError(t, await raw(`${base}/upload/storage/v1/b/${B}/o?uploadType=bogus&name=z`, { method: 'POST', body: 'x' }), 400);
  isGcsError(t, await raw(`${base}/storage/v1/b/${B}/o/dir%2Fobj.bin`, { method: 'PATCH', body: '{not json' }), 400, 'parseError');
  t.notOk(server.objectNames(B).includes('z'));
});

t.test('both path forms (with and without /storage/v1) and list paging', async t => {
  const a = await raw(`${base}/b/${B}/o/dir%2Fobj.bin`);
  const b = await raw(`${base}/storage/v1/b/${B}/o/dir%2Fobj.bin`);
  t.equal(a.status, 200);
  t.same(a.json(), b.json());
  const names: string[] = [];
  let token: string | undefined;
  let pages = 0;
  do {
    const r = await raw(`${base}/b/${B}/o?maxResults=2${token ? `&pageToken=${token}` : ''}`);
    t.equal(r.status, 200);
    t.equal(r.json().kind, 'storage#objects');
    names.push(...(r.json().items ?? []).map((i: { name: string }) => i.name));
    token = r.json().nextPageToken;
    pages++;
  } while (token && pages < 10);
  t.same(names, server.objectNames(B));
  t.equal(pages, Math.ceil(names.length / 2));
  isGcsError(t, await raw(`${base}/b/${B}/o?pageToken=%%%`), 400);
  t.same(server.openSessions(B), [], 'every session in this file was finalized or cancelled');
});
