// The job list's cursor is blobgate's own (the page's last record key, README "Jobs and idempotency"). One the
// caller made up is the caller's mistake: a clear 400, not a 502 storage failure (GCS answers a bad pageToken with
// 400); and a real cursor of another workspace's listing is refused too, so it never lists outside the caller's
// own prefix.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { CHUNK, startGcs } from '../gcs/harness.js';
import { startGateway, type Gateway } from '../helpers/gateway.js';

const gcs = await startGcs(t, 'bg-cursor');
const dir = await mkdtemp(join(tmpdir(), 'bg-gcs-key-'));
await writeFile(join(dir, 'sa.json'), JSON.stringify(gcs.serviceAccount), { mode: 0o600 });
const store = { driver: 'gcs', bucket: gcs.bucket, 'project-id': 'test', 'api-endpoint': gcs.server.url, 'chunk-size': CHUNK, credentials: `file:${join(dir, 'sa.json')}` };
const gw: Gateway = await startGateway({ stores: { bg: store }, tiers: { retained: { store: 'bg' }, ephemeral: { store: 'bg' } } });
t.teardown(async () => {
  await gw.close();
  await rm(dir, { recursive: true, force: true });
});

t.test('a made-up cursor is invalid_request', async (t) => {
  for (const cursor of ['garbage', Buffer.from('{"k":1}').toString('base64url')]) {
    const res = await gw.call('GET', `/v1/workspaces/ws-1/jobs?cursor=${encodeURIComponent(cursor)}`);
    t.equal(res.status, 400, JSON.stringify(res.json).slice(0, 300));
    t.equal(res.json?.error?.code, 'invalid_request');
    t.equal(res.json?.error?.details?.field, 'cursor');
  }
});

t.test("another workspace's cursor is refused, and lists nothing of it", async (t) => {
  const step = { 'flow-slug': 'f', 'step-id': 's', request: { url: 'http://127.0.0.1:1/unreachable' } };
  for (let i = 0; i < 3; i++) t.equal((await gw.call('POST', '/v1/workspaces/ws-2/http', step, { headers: { prefer: 'respond-async' } })).status, 202);
  const first = await gw.call('GET', '/v1/workspaces/ws-2/jobs?limit=1');
  t.ok(first.json.cursor, 'ws-2 has a next page');
  const crossed = await gw.call('GET', `/v1/workspaces/ws-1/jobs?cursor=${encodeURIComponent(first.json.cursor)}`);
  t.equal(crossed.status, 400, 'ws-2 cursor in ws-1: refused');
  t.equal(crossed.json?.error?.details?.field, 'cursor');
  t.equal(crossed.json?.items, undefined, 'ws-1 sees none of ws-2 jobs');
  const own = await gw.call('GET', `/v1/workspaces/ws-2/jobs?limit=1&cursor=${encodeURIComponent(first.json.cursor)}`);
  t.equal(own.status, 200, 'the cursor pages on in its own workspace');
  t.not(own.json.items[0]?.id, first.json.items[0]?.id, 'the next page is another job');
  // A token that names a spot before ws-1's prefix still lists inside it only.
  const early = Buffer.from(JSON.stringify({ k: '' })).toString('base64url');
  const res = await gw.call('GET', `/v1/workspaces/ws-1/jobs?cursor=${early}`);
  t.ok(res.status === 200 || res.status === 400, `answered ${res.status}`);
  if (res.status === 200) t.same(res.json.items, []);
});
