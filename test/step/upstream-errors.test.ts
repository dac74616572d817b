import { createServer } from 'node:net';
import t from 'tap';
import { startGateway } from '../helpers/gateway.js';
import { startUpstream } from '../helpers/upstream.js';

const gw = await startGateway();
const up = await startUpstream();
t.teardown(async () => {
  await gw.close();
  await up.stop();
});

t.test('a non-2xx upstream status is upstream_status with the status and an excerpt; nothing is persisted', async (t) => {
  for (const status of [404, 500]) {
    const res = await gw.step({ request: { url: `${up.url}/status/${status}` }, persist: { type: 'blob' } });
    t.equal(res.status, 502);
    t.equal(res.json.error.code, 'upstream_status');
    t.same(res.json.error.details, { status, excerpt: `upstream says ${status}` });
  }
  t.same(await gw.residue(), { tmp: [], objects: [] });
});

t.test('an upstream that never answers is upstream_timeout', async (t) => {
  const res = await gw.step({ request: { url: `${up.url}/hang`, timeout: 0.3 } });
  t.equal(res.status, 504);
  t.equal(res.json.error.code, 'upstream_timeout');
  t.match(res.json.error.message, /did not answer/);
});

t.test('an upstream that stalls mid-body is upstream_timeout and leaves nothing', async (t) => {
  const res = await gw.step({ request: { url: `${up.url}/bytes/2000000?stall-after=500000`, timeout: 0.5 }, persist: { type: 'blob' } });
  t.equal(res.status, 504);
  t.equal(res.json.error.code, 'upstream_timeout');
  t.match(res.json.error.message, /stalled/);
  t.same(await gw.residue(), { tmp: [], objects: [] });
});

t.test('a connection dropped mid-body is upstream_unreachable and leaves nothing', async (t) => {
  const res = await gw.step({ request: { url: `${up.url}/bytes/2000000?drop-after=700000` }, persist: { type: 'blob', tier: 'ephemeral' } });
  t.equal(res.status, 502);
  t.equal(res.json.error.code, 'upstream_unreachable');
  t.same(await gw.residue(), { tmp: [], objects: [] });
});

t.test('a closed port is upstream_unreachable naming the host', async (t) => {
  const probe = createServer();
  await new Promise<void>((r) => probe.listen(0, '127.0.0.1', r));
  const port = (probe.address() as { port: number }).port;
  await new Promise<void>((r) => probe.close(() => r()));
  const res = await gw.step({ request: { url: `http://127.0.0.1:${port}/x` } });
  t.equal(res.status, 502);
  t.equal(res.json.error.code, 'upstream_unreachable');
  t.match(res.json.error.message, new RegExp(`127\\.0\\.0\\.1:${port}.*connection refused`));
  t.notMatch(JSON.stringify(res.json), /stack|at .*\.ts/);
});

t.test('a scheme other than http(s) is destination_blocked', async (t) => {
  for (const url of ['file:///etc/passwd', 'ftp://127.0.0.1/x', 'gopher://127.0.0.1/']) {
    const res = await gw.step({ request: { url } });
    t.equal(res.status, 403, url);
    t.equal(res.json.error.code, 'destination_blocked');
  }
});
