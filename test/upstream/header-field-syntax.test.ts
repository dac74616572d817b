import t from 'tap';
import { startGateway } from '../helpers/gateway.js';
import { startUpstream } from '../helpers/upstream.js';

// A header undici refuses used to surface as 502 upstream_unreachable (UND_ERR_INVALID_ARG):
// the caller's mistake reported as the upstream's fault, and retried.
const up = await startUpstream();
const gw = await startGateway();
t.teardown(async () => {
  await gw.close();
  await up.stop();
});

t.test('a header name outside the token grammar or a value with control characters is invalid_request naming it', async (t) => {
  const rows: Array<[Record<string, unknown>, string]> = [
    [{ headers: { 'bad name': 'x' } }, 'request.headers'],
    [{ headers: { 'x(y)': 'x' } }, 'request.headers'],
    [{ headers: { '': 'x' } }, 'request.headers'],
    [{ headers: { 'x-a': 'a\u0001b' } }, 'request.headers.x-a'],
    [{ headers: { 'x-a': 'a\u007fb' } }, 'request.headers.x-a'],
    [{ headers: { 'x-a': 'line\u2028sep' } }, 'request.headers.x-a'],
    [{ 'content-type': 'text/plain\r\nx: y', body: 'b', method: 'POST' }, 'request.content-type'],
    [{ accept: 'text/\u0000plain' }, 'request.accept'],
  ];
  for (const [fields, field] of rows) {
    // Escaped, so that a U+2028 in the row does not break the TAP line.
    const label = JSON.stringify(fields).replace(/[^\x20-\x7e]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
    const before = up.requests.length;
    const res = await gw.step({ request: { url: `${up.url}/echo`, ...fields } });
    t.equal(res.status, 400, label);
    t.equal(res.json.error?.code, 'invalid_request', label);
    t.equal(res.json.error?.details?.field, field, label);
    t.equal(up.requests.length, before, `${label}: nothing was sent`);
  }
});

t.test('tabs, spaces and latin1 in values and every token character in names still go through', async (t) => {
  const res = await gw.step({ request: { url: `${up.url}/echo`, headers: { "x-!#$%&'*+.^_`|~09az": 'a\tb c', 'x-latin': 'café' } } });
  t.equal(res.status, 200, JSON.stringify(res.json));
  t.equal(res.json.body.headers["x-!#$%&'*+.^_`|~09az"], 'a\tb c');
});
