import t from 'tap';
import { patternChunk } from '../helpers/bytes.js';
import { startGateway, TOKEN_ALL } from '../helpers/gateway.js';

// Form fields shape the files that follow them. A field after the last file
// part (curl -F file=@x -F tier=ephemeral) would shape no file; it used to be
// dropped silently, the file landing in the retained tier. It is refused,
// naming the field, and the upload is all or nothing: the files already
// stored are removed, as for any other failed part.
const gw = await startGateway();
t.teardown(() => gw.close());
const auth = { authorization: `Bearer ${TOKEN_ALL}` };

async function listed(): Promise<string[]> {
  const res = await fetch(`${gw.url}/v1/workspaces/ws-1/resources?limit=1000`, { headers: auth });
  return ((await res.json()) as { items: Array<{ uri: string }> }).items.map((i) => i.uri);
}

async function upload(fd: FormData): Promise<{ status: number; json: any }> {
  const res = await fetch(`${gw.url}/v1/workspaces/ws-1/uploads`, { method: 'POST', headers: auth, body: fd });
  return { status: res.status, json: await res.json() };
}

t.test('a tier field after the only file is invalid_request naming it, and nothing is stored', async (t) => {
  const fd = new FormData();
  fd.append('file', new Blob([patternChunk(0, 100)]), 'late.bin');
  fd.append('tier', 'ephemeral');
  const res = await upload(fd);
  t.equal(res.status, 400);
  t.match(res.json.error, { code: 'invalid_request', details: { field: 'tier', fields: ['tier'] } });
  t.match(res.json.error.message, /"tier" comes after the last file.*place it before the file part/);
  t.same(await listed(), [], 'no file left');
  t.same((await gw.residue()).objects, [], 'no data file left');
});

t.test('fields after the last of several files: every file is rolled back, each field named', async (t) => {
  const fd = new FormData();
  fd.append('path', 'in');
  fd.append('file', new Blob([patternChunk(0, 10)]), 'a.bin');
  fd.append('tier', 'ephemeral');
  fd.append('file', new Blob([patternChunk(0, 10)]), 'b.bin');
  fd.append('path', 'other');
  fd.append('content-type', 'text/plain');
  const res = await upload(fd);
  t.equal(res.status, 400);
  t.match(res.json.error, { code: 'invalid_request', details: { field: 'path', fields: ['path', 'content-type'] } });
  t.match(res.json.error.message, /^Form fields "path", "content-type" come after the last file, so they apply to no file; place them before/, 'plural wording for several fields');
  t.same(await listed(), []);
});

t.test('fields between files still shape the files after them', async (t) => {
  const fd = new FormData();
  fd.append('file', new Blob([patternChunk(0, 10)]), 'a.bin');
  fd.append('tier', 'ephemeral');
  fd.append('file', new Blob([patternChunk(0, 10)]), 'b.bin');
  const res = await upload(fd);
  t.equal(res.status, 201);
  t.same(res.json.items.map((i: any) => i['blob-ref'].tier), ['retained', 'ephemeral']);
});
