// A job's completion callback: the final job POSTed to the caller's URL, HMAC-signed with a secret of the
// workspace, retried while the receiver fails, through the SSRF guard (docs/jobs.md#callbacks).
import { createHmac, timingSafeEqual } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import t from 'tap';
import { SIGNATURE_HEADER } from '../../src/jobs/callback.js';
import { startGateway, type Gateway } from '../helpers/gateway.js';
import { until } from '../helpers/until.js';
import { startGatedUpstream, type GatedUpstream } from '../faults/gated-upstream.js';

const SECRET = 'callback-signing-secret-000001';
let gw: Gateway;
let up: GatedUpstream;
const received: Array<{ headers: Record<string, string | string[] | undefined>; body: string; answered: number }> = [];
let failFirst = 1;
const receiver = createServer((req, res) => {
  let body = '';
  req.on('data', (d: Buffer) => (body += d.toString()));
  req.on('end', () => {
    const answered = failFirst-- > 0 ? 500 : 204;
    received.push({ headers: req.headers, body, answered });
    res.writeHead(answered).end();
  });
});

t.before(async () => {
  up = await startGatedUpstream();
  await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
  gw = await startGateway({ jobs: { 'heartbeat-seconds': 0.1, 'lost-after-seconds': 3 } }, { env: { BLOBGATE_SECRET__WS_1__HOOK: SECRET } });
});
t.teardown(async () => {
  await gw.close();
  await up.stop();
  await new Promise((r) => receiver.close(r));
});

/** What a receiver does (README "Jobs and idempotency"): HMAC of "<t>.<raw body>", compared in constant time, t recent. */
function verify(header: string, body: string, secret: string): boolean {
  const m = /^t=(\d+),v1=([0-9a-f]{64})$/.exec(header);
  if (!m) return false;
  const expected = createHmac('sha256', secret).update(`${m[1]}.${body}`).digest();
  return timingSafeEqual(expected, Buffer.from(m[2]!, 'hex')) && Math.abs(Date.now() / 1000 - Number(m[1])) < 300;
}

t.test('the final job is POSTed, signed, and retried until the receiver takes it', async (t) => {
  up.release('cb');
  const { port } = receiver.address() as AddressInfo;
  const res = await gw.call(
    'POST',
    '/v1/workspaces/ws-1/http',
    { 'flow-slug': 'f', 'step-id': 's', request: { url: `${up.url}/gated/cb/1000` }, persist: { type: 'blob' }, callback: { url: `http://127.0.0.1:${port}/hooks/done`, 'secret-ref': 'hook' } },
    { headers: { prefer: 'respond-async' } },
  );
  t.equal(res.status, 202, JSON.stringify(res.json));
  await until('the callback was taken', () => received.some((r) => r.answered === 204), 20_000);
  t.equal(received.length, 2, 'the first POST failed (500) and was retried');
  const taken = received.at(-1)!;
  t.ok(verify(String(taken.headers[SIGNATURE_HEADER]), taken.body, SECRET), 'the signature verifies with the workspace secret');
  t.notOk(verify(String(taken.headers[SIGNATURE_HEADER]), taken.body.replace('succeeded', 'failed'), SECRET), 'and not over another body');
  const job = JSON.parse(taken.body);
  t.equal(job.id, res.json.id);
  t.equal(job.state, 'succeeded');
  t.equal(job.result['blob-ref'].size, 1000);
  t.equal(taken.headers['blobgate-job-id'], res.json.id);
  t.notOk(taken.body.includes(SECRET) || JSON.stringify(taken.headers).includes(SECRET), 'the secret is never sent');
});

t.test('a callback is checked before anything runs', async (t) => {
  const base = { 'flow-slug': 'f', 'step-id': 's', request: { url: `${up.url}/gated/cb-bad/10` }, persist: { type: 'blob' } };
  const cases: Array<[Record<string, unknown>, Record<string, string>, number, string]> = [
    [{ url: 'http://127.0.0.1:1/x', 'secret-ref': 'hook' }, {}, 400, 'invalid_request'],
    [{ url: 'not a url', 'secret-ref': 'hook' }, { prefer: 'respond-async' }, 400, 'invalid_request'],
    [{ url: 'ftp://127.0.0.1/x', 'secret-ref': 'hook' }, { prefer: 'respond-async' }, 400, 'invalid_request'],
    [{ url: 'http://169.254.169.254/latest', 'secret-ref': 'hook' }, { prefer: 'respond-async' }, 403, 'destination_blocked'],
    [{ url: 'http://127.0.0.1:1/x', 'secret-ref': 'nope' }, { prefer: 'respond-async' }, 400, 'secret_not_found'],
    [{ url: 'http://127.0.0.1:1/x' }, { prefer: 'respond-async' }, 400, 'invalid_request'],
  ];
  for (const [callback, headers, status, code] of cases) {
    const res = await gw.call('POST', '/v1/workspaces/ws-1/http', { ...base, callback }, { headers });
    t.equal(res.status, status, JSON.stringify(callback));
    t.equal(res.json.error.code, code);
  }
  t.equal(up.hits('cb-bad'), 0, 'no upstream call');
});
