// The project's GCS test server, exercised with the real @google-cloud/storage client
// (apiEndpoint → loopback server, no auth on the wire, hash validation on).
import t from 'tap';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { PassThrough } from 'node:stream';
import { Storage, type File, type CreateWriteStreamOptions } from '@google-cloud/storage';
import { startGcsServer } from '../../support/servers/gcs/server.js';
import { bypassProxyForLoopback, md5b64, raw, sha256, sleep, statusOf } from './util.js';

delete process.env.STORAGE_EMULATOR_HOST; // the client must use apiEndpoint below
bypassProxyForLoopback();

const clientEmail = 'test@test.iam.gserviceaccount.com';
const { publicKey, privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
const serviceAccount = {
  type: 'service_account',
  project_id: 'test',
  client_email: clientEmail,
  private_key: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
};
const server = await startGcsServer({
  serviceAccountPublicKeyPem: publicKey.export({ type: 'spki', format: 'pem' }).toString(),
  clientEmail,
});
t.teardown(() => server.stop());

const storage = new Storage({ apiEndpoint: server.url, projectId: 'test', credentials: serviceAccount });
const BUCKET = 'client-bucket';
const bucket = storage.bucket(BUCKET);
const mediaUrl = (name: string): string => `${server.url}/storage/v1/b/${BUCKET}/o/${encodeURIComponent(name)}?alt=media`;

/** Uploads with createWriteStream; resolves with the HTTP statuses of every upload request. */
function upload(file: File, data: Buffer | PassThrough, opts: CreateWriteStreamOptions): Promise<number[]> {
  return new Promise((resolve, reject) => {
    const statuses: number[] = [];
    const ws = file.createWriteStream(opts);
    ws.on('response', (r: { status?: number; statusCode?: number }) => statuses.push(r.status ?? r.statusCode ?? 0));
    ws.on('error', reject).on('finish', () => resolve(statuses));
    if (Buffer.isBuffer(data)) ws.end(data);
    else data.pipe(ws);
  });
}

t.test('create bucket, get it, duplicate create → 409', async t => {
  await storage.createBucket(BUCKET);
  const [md] = await bucket.getMetadata();
  t.equal(md.name, BUCKET);
  t.equal(md.kind, 'storage#bucket');
  const r = await raw(`${server.url}/storage/v1/b/${BUCKET}`);
  t.equal(r.status, 200);
  t.equal(r.json().name, BUCKET);
  const err = await storage.createBucket(BUCKET).then(() => undefined, (e: unknown) => e);
  t.equal(statusOf(err), 409);
});

const big = randomBytes(1024 * 1024 + 7);

for (const validation of ['crc32c', 'md5'] as const) {
  t.test(`resumable multi-chunk upload (308 path), validation=${validation}`, async t => {
    const file = bucket.file(`chunked/${validation}.bin`);
    const uris: string[] = [];
    const statuses = await new Promise<number[]>((resolve, reject) => {
      const st: number[] = [];
      const ws = file.createWriteStream({ resumable: true, chunkSize: 256 * 1024, validation, metadata: { contentType: 'application/x-big', metadata: { via: 'chunks' } } });
      ws.on('uri', (u: string) => uris.push(u));
      ws.on('response', (r: { status: number }) => st.push(r.status));
      ws.on('error', reject).on('finish', () => resolve(st));
      ws.end(big);
    });
    // 1 MiB + 7 bytes in 256 KiB chunks: four 308 "Resume Incomplete", then 200 with the object.
    t.same(statuses, [308, 308, 308, 308, 200]);
    t.equal(uris.length, 1);
    t.match(uris[0], new RegExp(`^${server.url}/upload/storage/v1/b/${BUCKET}/o\\?.*upload_id=`));
    t.same(server.openSessions(BUCKET), []);
    const [md] = await file.getMetadata();
    t.equal(md.size, String(big.length));
    t.equal(md.md5Hash, md5b64(big));
    t.equal(md.contentType, 'application/x-big');
    t.same(md.metadata, { via: 'chunks' });
    const [back] = await file.download({ validation });
    t.equal(sha256(back), sha256(big));
    // A status query on the finalized session answers 200 with the object.
    const q = await raw(uris[0]!, { method: 'PUT', headers: { 'Content-Range': 'bytes */*' } });
    t.equal(q.status, 200);
    t.equal(q.json().size, String(big.length));
  });
}

t.test('single-request resumable upload (bytes 0-*/*)', async t => {
  const file = bucket.file('single/one.bin');
  const statuses = await upload(file, big, { resumable: true, validation: 'md5' });
  t.same(statuses, [200]);
  const [back] = await file.download();
  t.equal(sha256(back), sha256(big));
  t.same(server.openSessions(), []);
});

t.test('non-resumable (multipart/related) upload', async t => {
  const data = Buffer.from('multipart body\r\n--not-a-boundary\r\n');
  const file = bucket.file('multi/part.txt');
  await upload(file, data, { resumable: false, validation: 'crc32c', metadata: { contentType: 'text/plain', metadata: { a: '1' } } });
  const r = await raw(mediaUrl('multi/part.txt'));
  t.equal(r.status, 200);
  t.equal(sha256(r.body), sha256(data));
  t.equal(r.headers.get('content-type'), 'text/plain');
  t.equal(r.headers.get('x-goog-stored-content-encoding'), 'identity');
  t.match(r.headers.get('x-goog-hash'), `md5=${md5b64(data)}`);
  const [md] = await file.getMetadata();
  t.same(md.metadata, { a: '1' });
});

t.test('downloads: whole (hash-checked), ranged, suffix range', async t => {
  const file = bucket.file('single/one.bin');
  for (const validation of ['crc32c', 'md5'] as const) {
    const [whole] = await file.download({ validation });
    t.equal(sha256(whole), sha256(big), `whole download, ${validation}`);
  }
  const [part] = await file.download({ start: 1000, end: 1999 });
  t.equal(part.length, 1000);
  t.equal(sha256(part), sha256(big.subarray(1000, 2000)));
  const [tail] = await file.download({ start: big.length - 10 });
  t.equal(sha256(tail), sha256(big.subarray(big.length - 10)));
  const r = await raw(mediaUrl('single/one.bin'), { headers: { Range: 'bytes=-100' } });
  t.equal(r.status, 206);
  t.equal(r.headers.get('content-range'), `bytes ${big.length - 100}-${big.length - 1}/${big.length}`);
  t.equal(sha256(r.body), sha256(big.subarray(big.length - 100)));
  const bad = await raw(mediaUrl('single/one.bin'), { headers: { Range: `bytes=${big.length}-` } });
  t.equal(bad.status, 416);
});

t.test('getMetadata / setMetadata with null deletion', async t => {
  const file = bucket.file('meta/obj.txt');
  await file.save('meta', { resumable: false, metadata: { contentType: 'text/plain' } });
  const [before] = await file.getMetadata();
  await file.setMetadata({ contentType: 'application/json', metadata: { a: '1', b: '2' } });
  const [mid] = await file.getMetadata();
  t.equal(mid.contentType, 'application/json');
  t.same(mid.metadata, { a: '1', b: '2' });
  await file.setMetadata({ metadata: { a: null } });
  const [after] = await file.getMetadata();
  t.same(after.metadata, { b: '2' });
  t.equal(after.generation, before.generation, 'metadata updates keep the generation');
  t.equal(Number(after.metageneration), Number(before.metageneration) + 2);
  t.not(after.etag, before.etag);
  const [content] = await file.download();
  t.equal(content.toString(), 'meta');
});

t.test('list with prefix, delimiter and maxResults paging', async t => {
  const names = ['list/b.txt', 'list/a.txt', 'list/sub/c.txt', 'list/sub/d.txt', 'list/z/e.txt', 'listing.txt'];
  for (const n of names) await bucket.file(n).save(n, { resumable: false });
  const files: string[] = [];
  const prefixes: string[] = [];
  let pages = 0;
  let query: Record<string, unknown> | null = { prefix: 'list/', delimiter: '/', maxResults: 2, autoPaginate: false };
  while (query) {
    const [page, next, apiResponse]: [File[], unknown, unknown] = await bucket.getFiles(query);
    pages++;
    files.push(...page.map(f => f.name));
    prefixes.push(...(((apiResponse as { prefixes?: string[] }).prefixes) ?? []));
    query = (next as Record<string, unknown> | null) ?? null;
  }
  t.same(files, ['list/a.txt', 'list/b.txt']);
  t.same(prefixes, ['list/sub/', 'list/z/']);
  t.equal(pages, 2, 'four entries at two per page');
  const [all] = await bucket.getFiles({ prefix: 'list' });
  t.same(all.map(f => f.name), ['list/a.txt', 'list/b.txt', 'list/sub/c.txt', 'list/sub/d.txt', 'list/z/e.txt', 'listing.txt']);
});

t.test('delete → 204, then 404 everywhere', async t => {
  const file = bucket.file('meta/obj.txt');
  const [resp] = await file.delete();
  t.equal((resp as { statusCode?: number }).statusCode, 204);
  t.same(await file.exists(), [false]);
  t.equal(statusOf(await file.getMetadata().catch((e: unknown) => e)), 404);
  const again = await raw(`${server.url}/b/${BUCKET}/o/${encodeURIComponent('meta/obj.txt')}`, { method: 'DELETE' });
  t.equal(again.status, 404);
  t.equal(again.json().error.code, 404);
  t.notOk(server.objectNames(BUCKET).includes('meta/obj.txt'));
});

t.test('ifGenerationMatch preconditions → 412', async t => {
  const file = bucket.file('pre/exists.txt');
  await file.save('original', { resumable: false });
  for (const resumable of [false, true]) {
    const err = await file.save('overwrite', { resumable, preconditionOpts: { ifGenerationMatch: 0 } }).then(() => undefined, (e: unknown) => e);
    t.equal(statusOf(err), 412, `ifGenerationMatch=0 on an existing object, resumable=${resumable}`);
  }
  const [md] = await file.getMetadata();
  t.equal(statusOf(await file.getMetadata({ ifGenerationMatch: Number(md.generation) + 1 }).catch((e: unknown) => e)), 412);
  t.equal((await file.download())[0].toString(), 'original');
  await bucket.file('pre/new.txt').save('fresh', { resumable: true, preconditionOpts: { ifGenerationMatch: 0 } });
  t.equal((await bucket.file('pre/new.txt').download())[0].toString(), 'fresh');
  t.same(server.openSessions(), []);
});

t.test('upload stream destroyed mid-way, then cancelled: nothing left behind', async t => {
  const file = bucket.file('aborted/never.bin');
  const src = new PassThrough();
  const ws = file.createWriteStream({ resumable: true, chunkSize: 256 * 1024 });
  let uri = '';
  ws.on('uri', (u: string) => (uri = u));
  const failed = new Promise<unknown>(resolve => ws.on('error', resolve));
  src.pipe(ws);
  src.write(randomBytes(3 * 256 * 1024 + 1)); // three chunks go out; the client then waits for more
  for (let i = 0; i < 200 && (server.openSessions(BUCKET)[0]?.received ?? 0) < 3 * 256 * 1024; i++) await sleep(25);
  t.same(server.openSessions(BUCKET), [{ bucket: BUCKET, name: 'aborted/never.bin', received: 3 * 256 * 1024 }]);
  ws.destroy(new Error('source failed'));
  t.match(await failed, { message: 'source failed' });
  t.ok(uri, 'session URI was announced');
  const cancel = await raw(uri, { method: 'DELETE' });
  t.equal(cancel.status, 499);
  t.same(server.openSessions(), []);
  t.same(await file.exists(), [false]);
  t.notOk(server.objectNames(BUCKET).includes('aborted/never.bin'));
  const late = await raw(uri, { method: 'PUT', headers: { 'Content-Range': 'bytes */*' } });
  t.equal(late.status, 499, 'a cancelled session stays cancelled');
});

t.test('single-request upload destroyed while its PUT is in flight, then cancelled', async t => {
  const file = bucket.file('aborted/in-flight.bin');
  const src = new PassThrough();
  const ws = file.createWriteStream({ resumable: true });
  let uri = '';
  ws.on('uri', (u: string) => (uri = u));
  const failed = new Promise<unknown>(resolve => ws.on('error', resolve));
  src.pipe(ws);
  src.write(randomBytes(512 * 1024)); // streamed as "bytes 0-*/*", the request stays open
  for (let i = 0; i < 200 && !uri; i++) await sleep(25);
  await sleep(100);
  ws.destroy(new Error('source failed'));
  t.match(await failed, { message: 'source failed' });
  // The interrupted request is not finalized; what arrived is kept, as GCS does.
  for (let i = 0; i < 200 && (server.openSessions(BUCKET)[0]?.received ?? 0) === 0; i++) await sleep(25);
  const open = server.openSessions(BUCKET);
  t.equal(open.length, 1);
  t.ok(open[0]!.received > 0 && open[0]!.received <= 512 * 1024, `partial bytes persisted: ${open[0]?.received}`);
  const status = await raw(uri, { method: 'PUT', headers: { 'Content-Range': 'bytes */*' } });
  t.equal(status.status, 308);
  t.equal(status.headers.get('range'), `bytes=0-${open[0]!.received - 1}`);
  t.equal((await raw(uri, { method: 'DELETE' })).status, 499);
  t.same(server.openSessions(), []);
  t.same(await file.exists(), [false]);
});

t.test('V4 signed URLs are verified', async t => {
  const file = bucket.file('signed/dir/ob j+!.bin');
  const data = randomBytes(70_000);
  await file.save(data, { resumable: false, metadata: { contentType: 'application/x-signed' } });
  const [url] = await file.getSignedUrl({ version: 'v4', action: 'read', expires: Date.now() + 60_000 });
  const u = new URL(url);
  t.equal(u.origin, server.url);
  t.equal(u.pathname, `/${BUCKET}/signed/dir/ob%20j%2B%21.bin`);
  t.equal(u.searchParams.get('X-Goog-SignedHeaders'), 'host');

  const ok = await raw(url);
  t.equal(ok.status, 200);
  t.equal(sha256(ok.body), sha256(data));
  t.equal(ok.headers.get('content-type'), 'application/x-signed');
  const ranged = await raw(url, { headers: { Range: 'bytes=10-19' } });
  t.equal(ranged.status, 206);
  t.equal(sha256(ranged.body), sha256(data.subarray(10, 20)));

  const sig = u.searchParams.get('X-Goog-Signature')!;
  // Each tampering changes exactly one thing in the URL string.
  const tamperedSig = url.replace(`X-Goog-Signature=${sig}`, `X-Goog-Signature=${sig[0] === 'a' ? 'b' : 'a'}${sig.slice(1)}`);
  const otherPath = url.replace('ob%20j%2B%21.bin', 'other.bin');
  const longer = url.replace('X-Goog-Expires=60&', 'X-Goog-Expires=3600&');
  t.not(longer, url);
  for (const [what, bad] of [['signature', tamperedSig], ['path', otherPath], ['expires', longer]] as const) {
    const r = await raw(bad);
    t.equal(r.status, 403, `tampered ${what}`);
    t.match(r.text(), '<Code>SignatureDoesNotMatch</Code>');
    t.not(sha256(r.body), sha256(data));
  }
  const anonymous = await raw(`${server.url}/${BUCKET}/signed/dir/ob%20j%2B%21.bin`);
  t.equal(anonymous.status, 403);

  const [saveAs] = await file.getSignedUrl({ version: 'v4', action: 'read', expires: Date.now() + 60_000, promptSaveAs: 'report.bin', responseType: 'application/octet-stream' });
  const dl = await raw(saveAs);
  t.equal(dl.status, 200);
  t.equal(dl.headers.get('content-disposition'), 'attachment; filename="report.bin"');
  t.equal(dl.headers.get('content-type'), 'application/octet-stream');
  t.equal(sha256(dl.body), sha256(data));
  const [inline] = await file.getSignedUrl({ version: 'v4', action: 'read', expires: Date.now() + 60_000, responseDisposition: 'inline; filename="x.bin"' });
  t.equal((await raw(inline)).headers.get('content-disposition'), 'inline; filename="x.bin"');

  // Expired: X-Goog-Date + X-Goog-Expires in the past. The client refuses to sign a past
  // expiry, so sign one that lives one second and wait. GCS answers 400 ExpiredToken.
  const [shortLived] = await file.getSignedUrl({ version: 'v4', action: 'read', expires: Date.now() + 1000, accessibleAt: Date.now() - 5000 });
  const exp = new URL(shortLived).searchParams;
  const d = exp.get('X-Goog-Date')!; // YYYYMMDDTHHMMSSZ
  const signedAt = Date.parse(`${d.slice(0, 4)}-${d.slice(4, 6)}-${d.slice(6, 8)}T${d.slice(9, 11)}:${d.slice(11, 13)}:${d.slice(13, 15)}Z`);
  t.ok(signedAt < Date.now() - 4000, 'X-Goog-Date is the (past) accessibleAt');
  const expiresAt = signedAt + Number(exp.get('X-Goog-Expires')) * 1000;
  await sleep(Math.max(0, expiresAt - Date.now()) + 200);
  const expired = await raw(shortLived);
  t.equal(expired.status, 400);
  t.match(expired.text(), '<Code>ExpiredToken</Code>');
  t.not(sha256(expired.body), sha256(data));
});

t.test('STORAGE_EMULATOR_HOST form (no /storage/v1 prefix) and empty objects in every upload mode', async t => {
  process.env.STORAGE_EMULATOR_HOST = server.url; // read once, by the Storage constructor
  const emu = new Storage({ projectId: 'test' });
  delete process.env.STORAGE_EMULATOR_HOST;
  const b = emu.bucket(BUCKET);
  const modes: Array<[string, CreateWriteStreamOptions]> = [
    ['single', { resumable: true }],
    ['chunked', { resumable: true, chunkSize: 256 * 1024 }], // sends "bytes 0--1/0"
    ['multipart', { resumable: false }],
  ];
  for (const [mode, opts] of modes) {
    const file = b.file(`empty/${mode}`);
    const statuses = await upload(file, Buffer.alloc(0), { ...opts, validation: 'crc32c' });
    t.equal(statuses.at(-1) ?? 200, 200, `${mode}: final status`);
    const [md] = await file.getMetadata();
    t.equal(md.size, '0', `${mode}: size`);
    t.equal(md.crc32c, 'AAAAAA==', `${mode}: crc32c of nothing`);
    t.equal(md.md5Hash, md5b64(Buffer.alloc(0)));
    const [content] = await file.download();
    t.equal(content.length, 0);
  }
  const [listed] = await b.getFiles({ prefix: 'empty/' });
  t.same(listed.map(f => f.name), ['empty/chunked', 'empty/multipart', 'empty/single']);
  const r = await raw(`${server.url}/b/${BUCKET}/o/${encodeURIComponent('empty/single')}`);
  t.equal(r.status, 200);
  t.same(server.openSessions(), []);
});
