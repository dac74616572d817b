import t from 'tap';
import { startGateway } from '../helpers/gateway.js';
import { startUpstream } from '../helpers/upstream.js';

// A step's result headers describe the bytes blobgate stored (or inlined):
// they are decoded, so content-encoding, the wire content-length and
// hop-by-hop headers would be false of them. The wire values stay apart
// under upstream-headers.

const gw = await startGateway();
const up = await startUpstream();
t.teardown(async () => {
  await gw.close();
  await up.stop();
});

t.test('a gzip response persisted: headers say 100,000 decoded bytes, upstream-headers keep the wire values', async (t) => {
  const res = await gw.step({ request: { url: `${up.url}/bytes/100000/a.bin?encoding=gzip&type=text/plain` }, persist: { type: 'blob' } });
  t.equal(res.status, 200, JSON.stringify(res.json));
  t.equal(res.json['blob-ref'].size, 100_000);
  t.equal(res.json.headers['content-length'], '100000', 'content-length is the stored size');
  t.equal(res.json.headers['content-encoding'], undefined, 'the stored bytes are not gzip');
  t.equal(res.json.headers['content-type'], 'text/plain');
  for (const h of ['connection', 'keep-alive', 'transfer-encoding']) t.equal(res.json.headers[h], undefined, `no ${h}`);
  t.equal(res.json['upstream-headers']['content-encoding'], 'gzip');
  t.ok(Number(res.json['upstream-headers']['content-length']) < 100_000, 'the wire length is kept apart');
});

t.test('a persist content-type override is what the headers report', async (t) => {
  const res = await gw.step({ request: { url: `${up.url}/bytes/10/r.csv` }, persist: { type: ':blob', 'content-type': ':csv' } });
  t.equal(res.status, 200, JSON.stringify(res.json));
  t.equal(res.json.headers['content-type'], 'text/csv');
  t.equal(res.json['blob-ref']['content-type'], 'text/csv');
  t.equal(res.json.headers['content-length'], '10');
});

t.test('an inline gzip response: no content-encoding and no wire content-length in headers', async (t) => {
  const res = await gw.step({ request: { url: `${up.url}/bytes/2000?encoding=gzip&ascii=1&type=text/plain`, 'response-as': ':text' } });
  t.equal(res.status, 200, JSON.stringify(res.json).slice(0, 300));
  t.equal(res.json.body.length, 2000);
  t.equal(res.json.headers['content-encoding'], undefined);
  t.equal(res.json.headers['content-length'], undefined);
});
