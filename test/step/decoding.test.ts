import t from 'tap';
import { asciiChunk, patternSha256 } from '../helpers/bytes.js';
import { startGateway } from '../helpers/gateway.js';
import { startUpstream } from '../helpers/upstream.js';

const gw = await startGateway({ tiers: { retained: { 'cap-bytes': 100_000 } } });
const up = await startUpstream();
t.teardown(async () => {
  await gw.close();
  await up.stop();
});

for (const encoding of ['gzip', 'br', 'deflate', 'deflate-raw']) {
  t.test(`a ${encoding} response is stored decoded`, async (t) => {
    const size = 90_000;
    const res = await gw.step({ request: { url: `${up.url}/bytes/${size}?encoding=${encoding}` }, persist: { type: 'blob' } });
    t.equal(res.status, 200, JSON.stringify(res.json).slice(0, 200));
    t.equal(res.json['blob-ref'].size, size);
    t.equal(res.json['blob-ref'].sha256, patternSha256(size));
    t.match(up.requests.at(-1)?.headers['accept-encoding'], /gzip/);
  });
}

t.test('the cap counts decoded bytes: a small gzip body that inflates past the cap is refused', async (t) => {
  const before = await gw.residue();
  const res = await gw.step({ request: { url: `${up.url}/bytes/100001?encoding=gzip` }, persist: { type: 'blob' } });
  t.equal(res.status, 413);
  t.equal(res.json.error.code, 'cap_exceeded');
  t.same(await gw.residue(), before, 'no new object, no temp file');
  t.same(before.tmp, []);
});

t.test('inline results are decoded too', async (t) => {
  const res = await gw.step({ request: { url: `${up.url}/bytes/1000?encoding=gzip&type=text/plain&ascii=1` } });
  t.equal(res.status, 200);
  t.equal(res.json.body, asciiChunk(0, 1000).toString('latin1'));
});
