import { request as httpRequest } from 'node:http';
import t from 'tap';
import { patternChunk, patternSha256, patternStream, sha256 } from '../helpers/bytes.js';
import { startGateway, TOKEN_ALL } from '../helpers/gateway.js';

const gw = await startGateway();
t.teardown(() => gw.close());
const CAP = 52_428_800;

function put(filename: string, body: Buffer | ReadableStream | AsyncIterable<Uint8Array>, headers: Record<string, string> = {}, query = '') {
  return fetch(`${gw.url}/v1/workspaces/ws-1/uploads/${encodeURIComponent(filename)}${query}`, {
    method: 'PUT',
    headers: { authorization: `Bearer ${TOKEN_ALL}`, ...headers },
    body: body as RequestInit['body'],
    duplex: 'half',
  } as RequestInit);
}

t.test('PUT streams a raw body into the retained tier', async (t) => {
  const size = 5 * 1024 * 1024 + 3;
  const res = await put('big file.bin', patternStream(size) as unknown as AsyncIterable<Uint8Array>, { 'content-type': 'application/octet-stream' }, '?path=in/box');
  t.equal(res.status, 201);
  const ref = (await res.json()) as any;
  t.match(ref['blob-ref'], { size, sha256: patternSha256(size), tier: 'retained', 'content-type': 'application/octet-stream' });
  t.match(ref['blob-ref'].path, /^workspaces\/ws-1\/uploads\/[0-9a-f-]{36}\/in\/box\/big file\.bin$/);
});

t.test('the content type comes from the header, else from the filename', async (t) => {
  const a = (await (await put('x.json', Buffer.from('{"a":1}'), { 'content-type': 'application/json' })).json()) as any;
  t.equal(a['content-type'], 'application/json');
  const b = (await (await put('notes.txt', Buffer.from('hello'))).json()) as any;
  t.equal(b['content-type'], 'text/plain', 'from the .txt extension');
  t.equal(b['blob-ref'].sha256, sha256('hello'));
});

t.test('text-like retained uploads carry a raw-text excerpt for search; binary and opted-out ones do not', async (t) => {
  const text = (await (await put('notes.txt', Buffer.from('quarterly invoice INV-77'), { 'content-type': 'text/plain' })).json()) as any;
  const stored = await gw.stores.get('retained').head(text['blob-ref'].path);
  t.equal(stored.meta.searchIndex?.rawText, 'quarterly invoice INV-77');
  const bin = (await (await put('b.bin', patternChunk(0, 100))).json()) as any;
  t.equal((await gw.stores.get('retained').head(bin['blob-ref'].path)).meta.searchIndex, undefined);
  const off = (await (await put('o.txt', Buffer.from('secret-ish'), { 'content-type': 'text/plain' }, `?search-index=${encodeURIComponent('{"include-raw-content?":false}')}`)).json()) as any;
  t.same((await gw.stores.get('retained').head(off['blob-ref'].path)).meta.searchIndex, { includeRawContent: false });
});

t.test('over the cap: refused on Content-Length before reading, or when the bytes cross it; nothing left', async (t) => {
  const before = await gw.residue();
  const announced = await new Promise<{ status: number; body: string }>((resolve, reject) => {
    const { port } = new URL(gw.url);
    const req = httpRequest({ host: '127.0.0.1', port, method: 'PUT', path: '/v1/workspaces/ws-1/uploads/big.bin', headers: { authorization: `Bearer ${TOKEN_ALL}`, 'content-length': String(CAP + 1) } });
    req.on('response', (res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.write(patternChunk(0, 1000)); // the rest is never sent: the answer must come from the header alone
  });
  t.equal(announced.status, 413);
  t.equal(JSON.parse(announced.body).error.details['announced-bytes'], CAP + 1);
  const streamed = await put('big.bin', patternStream(CAP + 1) as unknown as AsyncIterable<Uint8Array>);
  t.equal(streamed.status, 413);
  t.equal(((await streamed.json()) as any).error.code, 'cap_exceeded');
  t.same(await gw.residue(), before);
});

t.test('bad filenames and query parameters are refused', async (t) => {
  const bad = await put('a\\b', Buffer.from('x'));
  t.equal(bad.status, 400);
  t.equal(((await bad.json()) as any).error.code, 'path_invalid');
  const unknown = await put('a.txt', Buffer.from('x'), {}, '?colour=red');
  t.equal(((await unknown.json()) as any).error.code, 'invalid_request');
});
