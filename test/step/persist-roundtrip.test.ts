import t from 'tap';
import { patternSha256, sha256OfStream } from '../helpers/bytes.js';
import { startGateway, TOKEN_ALL } from '../helpers/gateway.js';
import { startUpstream } from '../helpers/upstream.js';

const gw = await startGateway();
const up = await startUpstream();
t.teardown(async () => {
  await gw.close();
  await up.stop();
});

async function readBack(uri: string): Promise<{ sha256: string; size: number; status: number; type: string | null }> {
  const res = await fetch(`${gw.url}/v1/resources/content?uri=${encodeURIComponent(uri)}`, { headers: { authorization: `Bearer ${TOKEN_ALL}` } });
  const sum = await sha256OfStream(res.body as unknown as AsyncIterable<Uint8Array>);
  return { ...sum, status: res.status, type: res.headers.get('content-type') };
}

const cases: Array<[string, number, 'retained' | 'ephemeral']> = [
  ['0 B', 0, 'retained'],
  ['1 B', 1, 'retained'],
  ['1 MiB', 1024 * 1024, 'retained'],
  ['60 MiB ephemeral', 60 * 1024 * 1024, 'ephemeral'],
];

for (const [name, size, tier] of cases) {
  t.test(`persist of ${name} round trips byte-identical`, async (t) => {
    const res = await gw.step({
      request: { url: `${up.url}/bytes/${size}/data.bin`, 'response-as': 'bytes' },
      persist: { type: 'blob', tier },
    });
    t.equal(res.status, 200, JSON.stringify(res.json).slice(0, 300));
    const ref = res.json;
    t.equal(ref.type, 'resource-ref');
    t.equal(ref.uri, ref['resource-uri']);
    t.match(ref.uri, new RegExp(`^res://v1/ws/ws-1/file/blob/${tier}/persist/flow/step/[0-9a-f-]{36}/data\\.bin$`));
    t.equal(ref.status, 200);
    t.equal(ref.headers['content-type'], 'application/octet-stream');
    t.match(ref['blob-ref'], {
      store: tier,
      backend: 'local',
      bucket: null,
      size,
      sha256: patternSha256(size),
      'content-type': 'application/octet-stream',
      tier,
    });
    t.match(ref['blob-ref'].path, /^workspaces\/ws-1\/persist\/flow\/step\/[0-9a-f-]{36}\/data\.bin$/);
    if (tier === 'ephemeral') {
      const life = Date.parse(ref['blob-ref']['expires-at']) - Date.parse(ref['blob-ref']['created-at']);
      t.equal(life, 24 * 3600 * 1000, 'ephemeral blobs expire 24 h after write');
    } else {
      t.equal(ref['blob-ref']['expires-at'], null);
    }
    const back = await readBack(ref.uri);
    t.same(back, { sha256: patternSha256(size), size, status: 200, type: 'application/octet-stream' });
    t.same((await gw.residue()).tmp, [], 'no temp files left');
  });
}

t.test('chunked upstream (no Content-Length) persists byte-identical', async (t) => {
  const size = 3 * 1024 * 1024 + 5;
  const res = await gw.step({ request: { url: `${up.url}/bytes/${size}?chunked=1` }, persist: { type: 'blob' } });
  t.equal(res.status, 200);
  t.equal(res.json['blob-ref'].sha256, patternSha256(size));
  t.equal((await readBack(res.json.uri)).sha256, patternSha256(size));
});

t.test('persist content-type overrides the response type; filename defaults from the content type', async (t) => {
  const res = await gw.step({ request: { url: `${up.url}/bytes/10/?type=text/csv` }, persist: { type: 'blob', 'content-type': 'text/plain' } });
  t.equal(res.status, 200);
  t.equal(res.json['content-type'], 'text/plain');
  t.match(res.json.uri, /\/body\.txt$/, 'filename = body + extension of the content type');
  const res2 = await gw.step({ request: { url: `${up.url}/bytes/10/?type=text/csv` }, persist: { type: 'blob' } });
  t.equal(res2.json['content-type'], 'text/csv');
  t.match(res2.json.uri, /\/body\.csv$/);
});
