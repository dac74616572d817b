import t from 'tap';
import { startGateway } from '../helpers/gateway.js';
import { startUpstream } from '../helpers/upstream.js';
import { until } from '../helpers/until.js';

// One workspace here: its share is the whole gate, so these tests see the global limit (fairness: fairness.test.ts).
const gw = await startGateway({ limits: { transfers: 2, 'transfer-queue': 2, 'workspace-transfers': 2, 'workspace-transfer-queue': 2 } });
const up = await startUpstream();
t.teardown(async () => {
  await gw.close();
  await up.stop();
});

t.test('2× (limit + queue) at once: the excess gets 503 overloaded with Retry-After, the rest succeed', async (t) => {
  const rssBefore = process.memoryUsage().rss;
  const calls = Array.from({ length: 8 }, (_, i) =>
    fetch(`${gw.url}/v1/workspaces/ws-1/http`, {
      method: 'POST',
      headers: { authorization: 'Bearer test-token-ws1-ws2-000000', 'content-type': 'application/json' },
      body: JSON.stringify({ 'flow-slug': 'f', 'step-id': `s${i}`, request: { url: `${up.url}/bytes/2000000?delay-ms=400` }, persist: { type: 'blob', tier: 'ephemeral' } }),
    }).then(async (res) => ({ status: res.status, retryAfter: res.headers.get('retry-after'), json: (await res.json()) as any })),
  );
  const results = await Promise.all(calls);
  const ok = results.filter((r) => r.status === 200);
  const refused = results.filter((r) => r.status === 503);
  t.equal(ok.length, 4, '2 running + 2 queued succeed');
  t.equal(refused.length, 4);
  for (const r of refused) {
    t.equal(r.json.error.code, 'overloaded');
    t.equal(r.retryAfter, '1');
  }
  for (const r of ok) t.equal(r.json['blob-ref'].size, 2000000);
  t.equal(up.requests.length, 4, 'refused transfers never reached the upstream');
  const growth = (process.memoryUsage().rss - rssBefore) / 1024 / 1024;
  t.ok(growth < 200, `process RSS grew ${growth.toFixed(1)} MiB (budget: 16 transfers x ~1 MiB local buffers, plus GC slack)`);
});

t.test('total-timeout counts time spent waiting in the queue', async (t) => {
  const slow = (id: string) => gw.step({ 'step-id': id, request: { url: `${up.url}/hang`, timeout: 1 } });
  const first = up.requests.length;
  const blockers = [slow('a'), slow('b')];
  // Both blockers hold their slots once their requests reached the upstream.
  await until('both blockers reached the upstream', () => up.requests.length >= first + 2);
  const before = up.requests.length;
  const started = Date.now();
  const queued = await gw.step({ request: { url: `${up.url}/json`, 'client-opts': { 'total-timeout': 0.3 } } });
  t.equal(queued.status, 504);
  t.equal(queued.json.error.code, 'upstream_timeout');
  t.match(queued.json.error.message, /total-timeout/);
  t.ok(Date.now() - started < 900, 'failed at the total timeout, not after the blockers');
  await Promise.all(blockers);
  t.equal(up.requests.length, before, 'the timed-out queued transfer never started');
});

t.test('total-timeout bounds a transfer that keeps trickling', async (t) => {
  const res = await gw.step({ request: { url: `${up.url}/bytes/5000000?stall-after=100000`, timeout: 30, 'client-opts': { 'total-timeout': 0.5 } }, persist: { type: 'blob' } });
  t.equal(res.status, 504);
  t.equal(res.json.error.code, 'upstream_timeout');
  t.same((await gw.residue()).tmp, []);
});
