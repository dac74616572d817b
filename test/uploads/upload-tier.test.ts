import t from 'tap';
import { patternChunk, patternSha256, patternStream } from '../helpers/bytes.js';
import { startGateway, TOKEN_ALL } from '../helpers/gateway.js';

// An upload names its tier with the `tier` field (a form field before the
// file, or the PUT's query parameter): retained by default, ephemeral for a
// file the retained cap refuses, stored in that tier's store, under its cap,
// expiring with it. A cap refusal names the tier and what the caller can do.
const CAP = 1000;
const gw = await startGateway({ tiers: { retained: { 'cap-bytes': CAP }, ephemeral: { 'cap-bytes': 3 * CAP, 'ttl-seconds': 3600 } } });
t.teardown(() => gw.close());
const auth = { authorization: `Bearer ${TOKEN_ALL}` };

function put(name: string, size: number, query: string): Promise<Response> {
  return fetch(`${gw.url}/v1/workspaces/ws-1/uploads/${name}?${query}`, { method: 'PUT', headers: auth, body: patternStream(size) as unknown as AsyncIterable<Uint8Array>, duplex: 'half' } as RequestInit);
}

async function listed(): Promise<Array<{ uri: string; tier: string }>> {
  const res = await fetch(`${gw.url}/v1/workspaces/ws-1/resources?limit=1000`, { headers: auth });
  return ((await res.json()) as { items: Array<{ uri: string; tier: string }> }).items;
}

t.test('a raw upload with tier=ephemeral lands in the ephemeral store, past the retained cap, and expires', async (t) => {
  const size = 2 * CAP;
  const res = await put('big.bin', size, 'tier=ephemeral&path=in');
  t.equal(res.status, 201);
  const ref = (await res.json()) as any;
  t.match(ref['blob-ref'], { store: 'ephemeral', tier: 'ephemeral', size, sha256: patternSha256(size) });
  t.match(ref.uri, /^res:\/\/v1\/ws\/ws-1\/file\/blob\/ephemeral\/uploads\/[0-9a-f-]+\/in\/big\.bin$/);
  const ttl = Date.parse(ref['blob-ref']['expires-at']) - Date.parse(ref['blob-ref']['created-at']);
  t.equal(ttl, 3600_000, "the ephemeral tier's ttl-seconds");
  const keyword = await put('kw.bin', 10, 'tier=:ephemeral');
  t.equal(keyword.status, 201, 'the keyword form, as a step writes it');
  t.equal(((await keyword.json()) as any)['blob-ref'].tier, 'ephemeral');
  const plain = await put('plain.bin', 10, '');
  t.match(((await plain.json()) as any)['blob-ref'], { tier: 'retained', store: 'retained', 'expires-at': null }, 'no tier: retained, as before');
});

t.test('a multipart form: each file takes the tier field before it', async (t) => {
  const fd = new FormData();
  fd.append('tier', 'ephemeral');
  fd.append('file', new Blob([patternChunk(0, 2 * CAP)]), 'a.bin');
  fd.append('tier', 'retained');
  fd.append('file', new Blob([patternChunk(0, 10)]), 'b.bin');
  const res = await fetch(`${gw.url}/v1/workspaces/ws-1/uploads`, { method: 'POST', headers: auth, body: fd });
  t.equal(res.status, 201);
  const { items } = (await res.json()) as any;
  t.same(items.map((i: any) => [i['blob-ref'].tier, i['blob-ref'].size]), [['ephemeral', 2 * CAP], ['retained', 10]]);
});

t.test('an unknown tier is invalid_request naming the field, and nothing is stored', async (t) => {
  const before = (await listed()).length;
  const res = await put('x.bin', 10, 'tier=forever');
  t.equal(res.status, 400);
  const { error } = (await res.json()) as any;
  t.match(error, { code: 'invalid_request', details: { field: 'tier' } });
  t.match(error.message, /"forever" is not a tier: use "retained" \(the default\) or "ephemeral"/);
  t.equal((await listed()).length, before);
});

t.test('the cap refusal names the tier, and the ephemeral cap only where it would help', async (t) => {
  const retained = await put('r.bin', CAP + 1, '');
  t.equal(retained.status, 413);
  const r = ((await retained.json()) as any).error;
  t.match(r, { code: 'cap_exceeded', details: { 'max-bytes': CAP, tier: 'retained', 'ephemeral-max-bytes': 3 * CAP } });
  t.match(r.message, /upload it to the ephemeral tier \(field or query parameter tier=ephemeral, up to 3000 bytes; it expires there\)/);
  const ephemeral = await put('e.bin', 3 * CAP + 1, 'tier=ephemeral');
  t.equal(ephemeral.status, 413);
  const e = ((await ephemeral.json()) as any).error;
  t.match(e, { code: 'cap_exceeded', details: { 'max-bytes': 3 * CAP, tier: 'ephemeral' } });
  t.notOk('ephemeral-max-bytes' in e.details);
  t.match(e.message, /ephemeral tier's write cap of 3000 bytes.*send a smaller file/);
  t.notOk((await listed()).some((i) => /\/(r|e)\.bin$/.test(i.uri)), 'neither refused file is stored');
});
