// Progress is visible without jobs: the bytes a synchronous step has streamed
// into its store show in /metrics while the step is still running, not only
// once it commits (blobgate_transfer_bytes, blobgate_transfer_progress_bytes_total).
import { request as httpRequest } from 'node:http';
import t from 'tap';
import { startGatedUpstream } from '../faults/gated-upstream.js';
import { startGateway, TOKEN_ALL } from '../helpers/gateway.js';
import { until } from '../helpers/until.js';

const up = await startGatedUpstream();
const gw = await startGateway();
t.teardown(async () => {
  await gw.close();
  await up.stop();
});

async function sample(name: string, labels: Record<string, string>): Promise<number> {
  const text = await (await fetch(`${gw.url}/metrics`)).text();
  const want = Object.entries(labels).map(([k, v]) => `${k}="${v}"`);
  const line = text.split('\n').find((l) => l.startsWith(`${name}{`) && want.every((w) => l.includes(w)));
  return line ? Number(line.split(' ').at(-1)) : 0;
}
const inFlight = (): Promise<number> => sample('blobgate_transfer_bytes', { kind: 'step', store: 'retained' });
const progress = (): Promise<number> => sample('blobgate_transfer_progress_bytes_total', { kind: 'step', store: 'retained' });

const SIZE = 2_000_000;
const HOLD = 1_000_000;

t.test('the bytes of a persist still running are in /metrics', async (t) => {
  const before = await progress();
  let answered = false;
  const step = gw.step({ request: { url: `${up.url}/gated/p1/${SIZE}?hold=${HOLD}` }, persist: { type: 'blob' } }).finally(() => (answered = true));
  await up.held('p1');
  // The upstream sent half its body and waits for release: the store has those bytes, the step is not done.
  await until('the first half to show as in flight', async () => (await inFlight()) === HOLD);
  t.equal((await progress()) - before, HOLD, 'the progress counter moved by the same bytes');
  t.notOk(answered, 'the step is still running');
  up.release('p1');
  const res = await step;
  t.equal(res.status, 200);
  t.equal(res.json['blob-ref'].size, SIZE);
  t.equal(await inFlight(), 0, 'a committed write leaves nothing in flight');
  t.equal((await progress()) - before, SIZE, 'every byte counted once');
});

t.test('a client that leaves mid-body: its write ends and leaves the gauge, the other goes on, nothing is left', async (t) => {
  const stays = gw.step({ request: { url: `${up.url}/gated/p2/${SIZE}?hold=${HOLD}` }, persist: { type: 'blob' } });
  const { port } = new URL(gw.url);
  const leaves = httpRequest({ host: '127.0.0.1', port, method: 'POST', path: '/v1/workspaces/ws-1/http', headers: { authorization: `Bearer ${TOKEN_ALL}`, 'content-type': 'application/json' } });
  leaves.on('error', () => undefined);
  leaves.end(JSON.stringify({ 'flow-slug': 'flow', 'step-id': 'gone', request: { url: `${up.url}/gated/p3/${SIZE}?hold=${HOLD}` }, persist: { type: 'blob' } }));
  await up.held('p2');
  await up.held('p3');
  await until('both first halves in flight', async () => (await inFlight()) === 2 * HOLD);
  leaves.destroy();
  await until('the abandoned write to leave the gauge', async () => (await inFlight()) === HOLD);
  up.release('p2');
  up.release('p3');
  const res = await stays;
  t.equal(res.status, 200, 'the other transfer is untouched');
  t.equal(res.json['blob-ref'].size, SIZE);
  t.equal(await inFlight(), 0);
  t.same((await gw.residue()).tmp, [], 'no temp file left by the abandoned write');
});

t.test("an upload's bytes show while its body is still arriving", async (t) => {
  const size = 4 * 1024 * 1024;
  const upload = (): Promise<number> => sample('blobgate_transfer_bytes', { kind: 'upload', store: 'retained' });
  const uploaded = (): Promise<number> => sample('blobgate_transfer_progress_bytes_total', { kind: 'upload', store: 'retained' });
  const before = await uploaded();
  const { port } = new URL(gw.url);
  const req = httpRequest({ host: '127.0.0.1', port, method: 'PUT', path: '/v1/workspaces/ws-1/uploads/big.bin', headers: { authorization: `Bearer ${TOKEN_ALL}`, 'content-length': size } });
  const answer = new Promise<{ status: number; body: string }>((resolve, reject) => {
    req.on('response', (res) => {
      let body = '';
      res.on('data', (d: Buffer) => (body += d.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
  });
  let answered = false;
  void answer.finally(() => (answered = true));
  req.write(Buffer.alloc(size / 2, 1));
  // Bytes that arrived before the file was placed (while it waited for its slot) are not counted: at most a buffer's worth.
  await until('the first half to show as in flight', async () => (await upload()) >= size / 4);
  t.notOk(answered, 'the upload is still running');
  req.end(Buffer.alloc(size / 2, 2));
  const res = await answer;
  t.equal(res.status, 201, res.body);
  t.equal(await upload(), 0, 'a finished upload leaves nothing in flight');
  const counted = (await uploaded()) - before;
  t.ok(counted <= size && counted >= size - 1024 * 1024, `the body's bytes were counted as they came (${counted})`);
});
