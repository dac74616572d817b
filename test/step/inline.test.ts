import t from 'tap';
import { asciiChunk } from '../helpers/bytes.js';
import { startGateway } from '../helpers/gateway.js';
import { startUpstream } from '../helpers/upstream.js';

const INLINE = 262_144;
const gw = await startGateway();
const up = await startUpstream();
t.teardown(async () => {
  await gw.close();
  await up.stop();
});

t.test('json responses are parsed inline', async (t) => {
  const res = await gw.step({ request: { url: `${up.url}/json` } });
  t.equal(res.status, 200);
  t.same(res.json, {
    type: 'http-response',
    status: 200,
    headers: res.json.headers,
    'content-type': 'application/json',
    body: { ok: true, items: [1, 2, 3], name: 'blobgate' },
    attempts: 1,
  });
  const asText = await gw.step({ request: { url: `${up.url}/json`, 'response-as': 'text' } });
  t.equal(asText.json.body, '{"ok":true,"items":[1,2,3],"name":"blobgate"}');
});

for (const mode of ['content-length', 'chunked']) {
  const q = mode === 'chunked' ? '&chunked=1' : '';
  t.test(`inline limit boundary (${mode}): exactly 256 KiB inlines, one byte more is inline_limit_exceeded`, async (t) => {
    const exact = await gw.step({ request: { url: `${up.url}/bytes/${INLINE}?type=text/plain&ascii=1${q}` } });
    t.equal(exact.status, 200, 'exactly the limit is inlined');
    t.equal(exact.json.body, asciiChunk(0, INLINE).toString('latin1'));
    const over = await gw.step({ request: { url: `${up.url}/bytes/${INLINE + 1}?type=text/plain&ascii=1${q}` } });
    t.equal(over.status, 413);
    t.equal(over.json.error.code, 'inline_limit_exceeded');
    t.equal(over.json.error.details['limit-bytes'], INLINE);
    t.match(over.json.error.message, /persist/);
  });
}

t.test('max-response-bytes lowers the inline limit', async (t) => {
  const res = await gw.step({ request: { url: `${up.url}/json`, 'client-opts': { 'max-response-bytes': 10 } } });
  t.equal(res.status, 413);
  t.equal(res.json.error.code, 'inline_limit_exceeded');
  t.equal(res.json.error.details['limit-bytes'], 10);
});

t.test('binary content without persist is binary_requires_persist', async (t) => {
  const res = await gw.step({ request: { url: `${up.url}/bytes/100?type=image/png` } });
  t.equal(res.status, 422);
  t.equal(res.json.error.code, 'binary_requires_persist');
  t.match(res.json.error.message, /persist/);
  const bytes = await gw.step({ request: { url: `${up.url}/json`, 'response-as': 'bytes' } });
  t.equal(bytes.status, 422);
  t.equal(bytes.json.error.code, 'binary_requires_persist');
});

t.test('a body that is not UTF-8 text is binary_requires_persist even when labelled text', async (t) => {
  const res = await gw.step({ request: { url: `${up.url}/bytes/1000?type=text/plain` } });
  t.equal(res.status, 422);
  t.equal(res.json.error.code, 'binary_requires_persist');
});

t.test('invalid JSON with response-as json is response_unparseable', async (t) => {
  const res = await gw.step({ request: { url: `${up.url}/status/200`, 'response-as': 'json' } });
  t.equal(res.status, 502);
  t.equal(res.json.error.code, 'response_unparseable');
});

t.test('xml and edn are parsed: plain text asked for as either is response_unparseable (test/step/parse-edn-xml.test.ts has the mapping)', async (t) => {
  for (const as of ['xml', 'edn']) {
    const res = await gw.step({ request: { url: `${up.url}/status/200`, 'response-as': as } });
    t.equal(res.status, 502);
    t.equal(res.json.error.code, 'response_unparseable');
  }
});
