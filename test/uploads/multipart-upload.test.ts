import { request as httpRequest } from 'node:http';
import t from 'tap';
import { patternChunk, sha256 } from '../helpers/bytes.js';
import { startGateway, TOKEN_ALL, TOKEN_WS1 } from '../helpers/gateway.js';

const CAP = 1_000_000;
const gw = await startGateway({ tiers: { retained: { 'cap-bytes': CAP } }, limits: { 'upload-files': 4, 'upload-field-bytes': 128 } });
t.teardown(() => gw.close());

function form(parts: Array<[string, string | { bytes: Buffer; filename: string; type?: string }]>): FormData {
  const fd = new FormData();
  for (const [name, v] of parts) {
    if (typeof v === 'string') fd.append(name, v);
    else fd.append(name, new Blob([v.bytes], { type: v.type ?? 'application/octet-stream' }), v.filename);
  }
  return fd;
}

async function upload(fd: FormData | string, opts: { token?: string; ws?: string; type?: string } = {}) {
  const res = await fetch(`${gw.url}/v1/workspaces/${opts.ws ?? 'ws-1'}/uploads`, {
    method: 'POST',
    headers: { authorization: `Bearer ${opts.token ?? TOKEN_ALL}`, ...(opts.type ? { 'content-type': opts.type } : {}) },
    body: fd,
  });
  return { status: res.status, json: (await res.json()) as any };
}

async function content(uri: string): Promise<Buffer> {
  const res = await fetch(`${gw.url}/v1/resources/content?uri=${encodeURIComponent(uri)}`, { headers: { authorization: `Bearer ${TOKEN_ALL}` } });
  return Buffer.from(await res.arrayBuffer());
}

t.test('each file part becomes a retained resource; fields shape the files after them', async (t) => {
  const a = patternChunk(0, 300_000, 1);
  const b = Buffer.from('id,name\n1,acme\n');
  const res = await upload(
    form([
      ['path', 'inbox/2026'],
      ['file', { bytes: a, filename: 'a.bin' }],
      ['search-index', JSON.stringify({ text: 'invoice INV-1', tags: ['finance'], 'source-label': 'crm' })],
      ['file', { bytes: b, filename: 'b.csv', type: 'text/csv' }],
    ]),
  );
  t.equal(res.status, 201, JSON.stringify(res.json));
  t.equal(res.json.items.length, 2);
  const [ra, rb] = res.json.items;
  t.match(ra['blob-ref'], { tier: 'retained', size: a.length, sha256: sha256(a), 'content-type': 'application/octet-stream' });
  t.match(ra['blob-ref'].path, /^workspaces\/ws-1\/uploads\/[0-9a-f-]{36}\/inbox\/2026\/a\.bin$/);
  t.match(rb['blob-ref'], { size: b.length, sha256: sha256(b), 'content-type': 'text/csv' });
  t.same(rb['search-index'], { text: 'invoice INV-1', tags: ['finance'], 'source-label': 'crm' });
  t.same(await content(ra.uri), a);
  t.same(await content(rb.uri), b);
});

t.test('a slot upload lands under the slot root', async (t) => {
  const res = await upload(form([['slot', 'archive'], ['root', 'reports/acme'], ['path', 'q1'], ['file', { bytes: Buffer.from('x'), filename: 'r.pdf', type: 'application/pdf' }]]));
  t.equal(res.status, 201, JSON.stringify(res.json));
  t.equal(res.json.items[0]['blob-ref'].path, 'workspaces/ws-1/storage/reports/acme/q1/r.pdf');
  t.same(res.json.items[0].storage, { backend: 'local', slot: 'archive', root: 'reports/acme', 'path-under-root': 'q1/r.pdf', 'relative-path': 'q1/r.pdf' });
});

t.test('a 3-file request whose last file is over the cap stores nothing', async (t) => {
  const before = await gw.residue();
  const res = await upload(
    form([
      ['file', { bytes: patternChunk(0, 1000), filename: 'one.bin' }],
      ['file', { bytes: patternChunk(0, CAP), filename: 'two-exactly-cap.bin' }],
      ['file', { bytes: patternChunk(0, CAP + 1), filename: 'three-over.bin' }],
    ]),
  );
  t.equal(res.status, 413);
  t.equal(res.json.error.code, 'cap_exceeded');
  t.same(await gw.residue(), before, 'the two files already stored were removed; no temp file');
});

t.test('limits, unknown and oversized fields, malformed bodies are clear errors', async (t) => {
  const before = await gw.residue();
  const many = await upload(form([1, 2, 3, 4, 5].map((i) => ['file', { bytes: Buffer.from('x'), filename: `${i}.txt` }] as [string, { bytes: Buffer; filename: string }])));
  t.equal(many.status, 400);
  t.match(many.json.error.message, /upload-files \(4\)/);
  const unknown = await upload(form([['colour', 'red'], ['file', { bytes: Buffer.from('x'), filename: 'x.txt' }]]));
  t.match(unknown.json.error.message, /Unknown form field "colour"/);
  const long = await upload(form([['path', 'p'.repeat(200)], ['file', { bytes: Buffer.from('x'), filename: 'x.txt' }]]));
  t.match(long.json.error.message, /longer than limits\.upload-field-bytes/);
  const cut = await upload('--XYZ\r\nContent-Disposition: form-data; name="file"; filename="a.txt"\r\n\r\npartial', { type: 'multipart/form-data; boundary=XYZ' });
  t.equal(cut.status, 400);
  t.match(cut.json.error.message, /malformed or was cut off/);
  const none = await upload(form([['path', 'x']]));
  t.match(none.json.error.message, /no file part/);
  const notForm = await upload('hello', { type: 'text/plain' });
  t.match(notForm.json.error.message, /multipart\/form-data/);
  const badPath = await upload(form([['path', '../x'], ['file', { bytes: Buffer.from('x'), filename: 'x.txt' }]]));
  t.equal(badPath.json.error.code, 'path_invalid');
  const badIndex = await upload(form([['search-index', '{nope'], ['file', { bytes: Buffer.from('x'), filename: 'x.txt' }]]));
  t.match(badIndex.json.error.message, /search-index field must be JSON/);
  t.same(await gw.residue(), before, 'nothing stored by any of them');
});

t.test('workspace isolation', async (t) => {
  const res = await upload(form([['file', { bytes: Buffer.from('x'), filename: 'x.txt' }]]), { ws: 'ws-2', token: TOKEN_WS1 });
  t.equal(res.status, 403);
  t.equal(res.json.error.code, 'forbidden');
  const none = await fetch(`${gw.url}/v1/workspaces/ws-1/uploads`, { method: 'POST', body: form([['file', { bytes: Buffer.from('x'), filename: 'x.txt' }]]) });
  t.equal(none.status, 401);
});

t.test('a client that disconnects mid-upload leaves nothing', async (t) => {
  const before = await gw.residue();
  const { port } = new URL(gw.url);
  const boundary = 'B0UNDARY';
  const req = httpRequest({ host: '127.0.0.1', port, method: 'POST', path: '/v1/workspaces/ws-1/uploads', headers: { authorization: `Bearer ${TOKEN_ALL}`, 'content-type': `multipart/form-data; boundary=${boundary}` } });
  req.on('error', () => undefined);
  req.write(`--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="done.bin"\r\n\r\n`);
  req.write(patternChunk(0, 1000));
  req.write(`\r\n--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="half.bin"\r\n\r\n`);
  req.write(patternChunk(0, 200_000));
  let tmp: string[] = [];
  for (let i = 0; i < 100 && tmp.length === 0; i++) {
    await new Promise((r) => setTimeout(r, 20));
    tmp = (await gw.residue()).tmp;
  }
  t.ok(tmp.length >= 1, 'the second file was being written');
  req.destroy();
  let residue = await gw.residue();
  for (let i = 0; i < 100 && (residue.tmp.length > 0 || residue.objects.length !== before.objects.length); i++) {
    await new Promise((r) => setTimeout(r, 20));
    residue = await gw.residue();
  }
  t.same(residue, before, 'the finished first file was removed too; no temp file');
});
