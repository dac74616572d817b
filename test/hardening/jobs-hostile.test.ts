// A hostile tenant against the job routes (docs/jobs.md): what it sends must end in a clear answer for its own
// jobs, and never reach another workspace's.
import t from 'tap';
import { startGateway, type Gateway } from '../helpers/gateway.js';
import { until } from '../helpers/until.js';
import { startGatedUpstream } from '../faults/gated-upstream.js';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { CALLBACKS_PER_WORKSPACE } from '../../src/jobs/callback.js';

/** GET /text/<size>: a text/plain body of `size` double quotes (each one is two bytes once JSON-escaped). */
async function startTextUpstream(): Promise<{ url: string; stop: () => Promise<void> }> {
  const server = createServer((req, res) => {
    const size = Number(/^\/text\/(\d+)$/.exec(req.url ?? '')?.[1] ?? 0);
    res.writeHead(200, { 'content-type': 'text/plain; charset=utf-8', 'content-length': size }).end('"'.repeat(size));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    stop: async () => {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    },
  };
}

let gw: Gateway;
let up: Awaited<ReturnType<typeof startTextUpstream>>;
t.before(async () => {
  up = await startTextUpstream();
  gw = await startGateway({ jobs: { 'heartbeat-seconds': 0.1, 'lost-after-seconds': 3 } }, { env: { BLOBGATE_SECRET__WS_1__HOOK: 'hostile-hook-secret-ws1-0001', BLOBGATE_SECRET__WS_2__HOOK: 'other-hook-secret-ws2-000001' } });
});
t.teardown(async () => {
  await gw.close();
  await up.stop();
});

t.test('an async step whose inline answer does not fit in a job record ends failed with a clear error, not lost', async (t) => {
  // The inline limit (256 KiB by default) is also the record limit: the job's record holds the answer JSON-escaped,
  // so it can never be written, and before the fix the job read as running, then lost, on every replica.
  const size = gw.config.limits.inlineBytes;
  const res = await gw.call('POST', '/v1/workspaces/ws-1/http', { 'flow-slug': 'f', 'step-id': 's', request: { url: `${up.url}/text/${size}` } }, { headers: { prefer: 'respond-async' } });
  t.equal(res.status, 202, JSON.stringify(res.json));
  let job: any;
  await until('the job ended', async () => {
    job = (await gw.call('GET', `/v1/workspaces/ws-1/jobs/${res.json.id}`)).json;
    return job.state !== 'queued' && job.state !== 'running';
  }, 20_000);
  t.equal(job.state, 'failed', JSON.stringify(job).slice(0, 300));
  t.equal(job.error?.code, 'inline_limit_exceeded');
  t.match(job.error?.message, /add a persist spec/);
  t.notOk('result' in job, 'no partial result is kept');
  const lostAfterMs = gw.config.jobs.lostAfterSeconds * 1000;
  const ended = Date.parse(job['updated-at']);
  await until('past the lost-after interval since its last write', () => Date.now() - ended > lostAfterMs, lostAfterMs + 10_000);
  t.equal((await gw.call('GET', `/v1/workspaces/ws-1/jobs/${res.json.id}`)).json.state, 'failed', 'its record was written: it stays failed');
});

t.test('a synchronous keyed step with such an answer gets the same error as a repeat with its key', async (t) => {
  const size = gw.config.limits.inlineBytes;
  const body = { 'flow-slug': 'f', 'step-id': 'keyed', request: { url: `${up.url}/text/${size}` } };
  const first = await gw.call('POST', '/v1/workspaces/ws-1/http', body, { headers: { 'idempotency-key': 'big-inline-1' } });
  t.equal(first.status, 413, JSON.stringify(first.json).slice(0, 300));
  t.equal(first.json.error.code, 'inline_limit_exceeded');
  const again = await gw.call('POST', '/v1/workspaces/ws-1/http', body, { headers: { 'idempotency-key': 'big-inline-1' } });
  t.equal(again.status, 413);
  t.equal(again.headers.get('idempotent-replayed'), 'true', 'the repeat found the first job: it did not run again');
});

/** A callback receiver: /hold/* answers nothing until `answer()` (a tarpit), /ok/* answers 204 at once. */
async function startReceiver() {
  let answering = false;
  const held = new Set<import('node:http').ServerResponse>();
  let peak = 0;
  const delivered: string[] = [];
  const server = createServer((req, res) => {
    req.resume();
    if (req.url?.startsWith('/ok/') || answering) {
      delivered.push(req.url ?? '');
      return void res.writeHead(204).end();
    }
    held.add(res);
    peak = Math.max(peak, held.size);
    res.once('close', () => held.delete(res));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    held: () => held.size,
    peak: () => peak,
    delivered,
    /** From now on every request is answered; the held ones are cut, so their retries come back and are. */
    answer() {
      answering = true;
      for (const res of held) res.socket?.destroy();
    },
    stop: async () => {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    },
  };
}

t.test('a workspace whose callback receiver never answers holds a bounded number of deliveries', async (t) => {
  const receiver = await startReceiver();
  const flood = 5 * CALLBACKS_PER_WORKSPACE;
  const ids: string[] = [];
  for (let i = 0; i < flood; i++) {
    const res = await gw.call(
      'POST',
      '/v1/workspaces/ws-1/http',
      { 'flow-slug': 'f', 'step-id': `cb-${i}`, request: { url: `${up.url}/text/10` }, callback: { url: `${receiver.url}/hold/${i}`, 'secret-ref': 'hook' } },
      { headers: { prefer: 'respond-async' } },
    );
    t.equal(res.status, 202, `flood job ${i} accepted`);
    ids.push(res.json.id);
  }
  await until('every flood job ended', async () => {
    for (const id of ids) if ((await gw.call('GET', `/v1/workspaces/ws-1/jobs/${id}`)).json.state !== 'succeeded') return false;
    return true;
  }, 20_000);
  await until('the tarpit holds deliveries', () => receiver.held() >= 1);
  // Another workspace's callback still goes out at once; by the time it arrived, ws-1's deliveries had long begun.
  const other = await gw.call(
    'POST',
    '/v1/workspaces/ws-2/http',
    { 'flow-slug': 'f', 'step-id': 'cb-other', request: { url: `${up.url}/text/10` }, callback: { url: `${receiver.url}/ok/other`, 'secret-ref': 'hook' } },
    { headers: { prefer: 'respond-async' } },
  );
  t.equal(other.status, 202);
  await until('the other workspace was called back', () => receiver.delivered.includes('/ok/other'), 20_000);
  t.ok(receiver.peak() <= CALLBACKS_PER_WORKSPACE, `at most ${CALLBACKS_PER_WORKSPACE} deliveries of one workspace in flight at once (saw ${receiver.peak()} of ${flood})`);
  receiver.answer();
  await until('every held callback was delivered once the receiver answered', () => receiver.delivered.filter((u) => u.startsWith('/hold/')).length >= flood, 30_000);
  await receiver.stop();
});

t.test('a callback URL that carries a credential is refused like an upstream URL, before anything is stored', async (t) => {
  const { url } = await startReceiver().then(async (r) => {
    await r.stop();
    return r;
  });
  const port = new URL(url).port;
  for (const callbackUrl of [`http://hook-user:hook-pass@127.0.0.1:${port}/done`, `http://127.0.0.1:${port}/done?access_token=hook-token-123`]) {
    const res = await gw.call(
      'POST',
      '/v1/workspaces/ws-1/http',
      { 'flow-slug': 'f', 'step-id': 'cb-cred', request: { url: `${up.url}/text/10` }, callback: { url: callbackUrl, 'secret-ref': 'hook' } },
      { headers: { prefer: 'respond-async' } },
    );
    t.equal(res.status, 400, JSON.stringify(res.json).slice(0, 300));
    t.equal(res.json?.error?.code, 'inline_secret_rejected');
    t.equal(res.json?.error?.details?.field, 'callback.url');
    t.notOk(JSON.stringify(res.json).includes('hook-pass') || JSON.stringify(res.json).includes('hook-token-123'), 'the answer does not echo the credential');
  }
  const listed = await gw.call('GET', '/v1/workspaces/ws-1/jobs?limit=200');
  t.notOk(JSON.stringify(listed.json).includes('hook-pass') || JSON.stringify(listed.json).includes('hook-token-123'), 'no job record keeps it');
});

t.test("a repeat of a keyed step that already ended gets its answer while the tenant's transfers are all taken", async (t) => {
  // The repeat runs nothing, so a full gate is no reason to refuse it: a runner retrying after a lost answer
  // would otherwise see 503 until its own other transfers drain.
  const held = await startGatedUpstream();
  const full = await startGateway({ jobs: { 'heartbeat-seconds': 0.1, 'lost-after-seconds': 3 }, limits: { transfers: 1, 'transfer-queue': 0 } });
  t.teardown(async () => {
    held.release('hog');
    await full.close();
    await held.stop();
  });
  const body = { 'flow-slug': 'f', 'step-id': 'done-before', request: { url: `${up.url}/text/10` } };
  const first = await full.call('POST', '/v1/workspaces/ws-1/http', body, { headers: { 'idempotency-key': 'ended-key' } });
  t.equal(first.status, 200, JSON.stringify(first.json).slice(0, 200));
  const hog = full.call('POST', '/v1/workspaces/ws-1/http', { 'flow-slug': 'f', 'step-id': 'hog', request: { url: `${held.url}/gated/hog/1000?hold=10` }, persist: { type: 'blob' } });
  await held.held('hog');
  const fresh = await full.call('POST', '/v1/workspaces/ws-1/http', { ...body, 'step-id': 'new-one' }, { headers: { 'idempotency-key': 'new-key' } });
  t.equal(fresh.status, 503, 'a new keyed step is still refused by the full gate');
  t.equal(fresh.json?.error?.code, 'overloaded');
  const again = await full.call('POST', '/v1/workspaces/ws-1/http', body, { headers: { 'idempotency-key': 'ended-key' } });
  t.equal(again.status, 200, JSON.stringify(again.json).slice(0, 200));
  t.equal(again.headers.get('idempotent-replayed'), 'true');
  t.same(again.json, first.json, 'the first answer');
  held.release('hog');
  t.equal((await hog).status, 200);
});
