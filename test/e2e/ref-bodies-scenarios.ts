import type { Test } from 'tap';
import { patternSha256 } from '../helpers/bytes.js';
import type { Gateway } from '../helpers/gateway.js';
import { startSink } from '../helpers/sink.js';
import type { Upstream } from '../helpers/upstream.js';

const RETAINED_LOAD = 10_485_760;
const EPHEMERAL_LOAD = 20_971_520;

/** body-from-ref and multipart from-ref against whatever store backs the gateway's tiers. */
export function refBodyScenarios(t: Test, gw: Gateway, up: Upstream): void {
  const persist = async (size: number, tier: 'retained' | 'ephemeral', name = 'src.bin', type = 'application/octet-stream') => {
    const res = await gw.step({ request: { url: `${up.url}/bytes/${size}/${name}?type=${encodeURIComponent(type)}` }, persist: { type: 'blob', tier } });
    if (res.status !== 200) throw new Error(JSON.stringify(res.json));
    return res.json;
  };

  t.test('body-from-ref streams the blob byte-identical, with its content type and Content-Length', async (t) => {
    const sink = await startSink();
    t.teardown(() => sink.stop());
    const ref = await persist(3 * 1024 * 1024 + 11, 'retained', 'report.csv', 'text/csv');
    const res = await gw.step({ request: { url: `${sink.url}/hash`, method: 'post', 'body-from-ref': { uri: ref.uri } } });
    t.equal(res.status, 200, JSON.stringify(res.json));
    t.same(res.json.body, { sha256: patternSha256(3 * 1024 * 1024 + 11), size: 3 * 1024 * 1024 + 11, 'content-type': 'text/csv', 'content-length': String(3 * 1024 * 1024 + 11) });
    const whole = await gw.step({ request: { url: `${sink.url}/hash`, method: 'put', 'body-from-ref': ref, 'content-type': 'application/x-custom' } });
    t.equal(whole.json.body['content-type'], 'application/x-custom', 'a whole resource ref works; the step content-type wins');
  });

  for (const [tier, limit] of [['retained', RETAINED_LOAD], ['ephemeral', EPHEMERAL_LOAD]] as const) {
    t.test(`${tier} load cap: exactly ${limit} bytes is sent, one more is load_limit_exceeded with nothing sent`, async (t) => {
      const sink = await startSink();
      t.teardown(() => sink.stop());
      const exact = await persist(limit, tier);
      const ok = await gw.step({ request: { url: `${sink.url}/hash`, method: 'post', 'body-from-ref': { uri: exact.uri } } });
      t.equal(ok.status, 200);
      t.equal(ok.json.body.sha256, patternSha256(limit));
      const over = await persist(limit + 1, tier);
      const before = sink.count();
      const res = await gw.step({ request: { url: `${sink.url}/hash`, method: 'post', 'body-from-ref': { uri: over.uri } } });
      t.equal(res.status, 413);
      t.equal(res.json.error.code, 'load_limit_exceeded');
      t.same(res.json.error.details, { 'size-bytes': limit + 1, 'limit-bytes': limit, tier });
      t.equal(sink.count(), before, 'the upstream received nothing');
    });
  }

  t.test('multipart with two from-ref parts and a value part, parsed by a real multipart parser', async (t) => {
    const sink = await startSink();
    t.teardown(() => sink.stop());
    const a = await persist(2 * 1024 * 1024 + 1, 'retained', 'a.bin');
    const b = await persist(777, 'ephemeral', 'b.csv', 'text/csv');
    const res = await gw.step({
      request: {
        url: `${sink.url}/multipart`,
        method: 'post',
        multipart: [
          { name: 'meta', value: 'hello "world"' },
          { name: 'first', 'from-ref': { uri: a.uri } },
          { name: 'second', 'from-ref': b, filename: 'renamed.csv', 'content-type': 'text/plain' },
        ],
      },
    });
    t.equal(res.status, 200, JSON.stringify(res.json));
    t.same(res.json.body.fields, { meta: 'hello "world"' });
    t.same(res.json.body.files, [
      { name: 'first', filename: 'a.bin', 'mime-type': 'application/octet-stream', sha256: patternSha256(2 * 1024 * 1024 + 1), size: 2 * 1024 * 1024 + 1 },
      { name: 'second', filename: 'renamed.csv', 'mime-type': 'text/plain', sha256: patternSha256(777), size: 777 },
    ]);
    t.match(res.json.body['content-length'], /^\d+$/, 'Content-Length was sent');
  });

  t.test('multipart: a from-ref part over its load cap is refused with the total, nothing sent', async (t) => {
    const sink = await startSink();
    t.teardown(() => sink.stop());
    const small = await persist(100, 'retained');
    const big = await persist(RETAINED_LOAD + 1, 'retained');
    const before = sink.count();
    const res = await gw.step({ request: { url: `${sink.url}/multipart`, method: 'post', multipart: [{ name: 's', 'from-ref': small }, { name: 'b', 'from-ref': big }] } });
    t.equal(res.status, 413);
    t.equal(res.json.error.code, 'load_limit_exceeded');
    t.match(res.json.error.details, { part: 1, 'size-bytes': RETAINED_LOAD + 1, 'total-bytes': RETAINED_LOAD + 101 });
    t.match(res.json.error.message, /total 10485861 bytes/);
    t.equal(sink.count(), before);
  });

  t.test('refs must be in the step workspace, present and live', async (t) => {
    const sink = await startSink();
    t.teardown(() => sink.stop());
    const ref = await persist(10, 'retained');
    const foreign = await gw.step({ request: { url: `${sink.url}/hash`, method: 'post', 'body-from-ref': ref } }, 'ws-2');
    t.equal(foreign.status, 403);
    t.equal(foreign.json.error.code, 'forbidden');
    const missing = await gw.step({ request: { url: `${sink.url}/hash`, method: 'post', 'body-from-ref': { uri: ref.uri.replace('src.bin', 'nope.bin') } } });
    t.equal(missing.status, 404);
    t.equal(missing.json.error.code, 'not_found');
    const mpForeign = await gw.step({ request: { url: `${sink.url}/multipart`, method: 'post', multipart: [{ name: 'x', 'from-ref': ref }] } }, 'ws-2');
    t.equal(mpForeign.json.error.code, 'forbidden');
    t.equal(sink.count(), 0, 'nothing was sent upstream');
  });

  t.test('a 307 redirect re-sends a body-from-ref from the store', async (t) => {
    const sink = await startSink();
    t.teardown(() => sink.stop());
    const ref = await persist(300_000, 'retained');
    const res = await gw.step({ request: { url: `${up.url}/redirect/307?to=${encodeURIComponent(`${sink.url}/hash`)}`, method: 'post', 'body-from-ref': ref } });
    t.equal(res.status, 200);
    t.equal(res.json.body.sha256, patternSha256(300_000));
  });
}
