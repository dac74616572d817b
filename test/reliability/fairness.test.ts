import { request as httpRequest, type ClientRequest } from 'node:http';
import t from 'tap';
import { BlobgateError } from '../../src/errors.js';
import { TransferGate } from '../../src/http/transfer-gate.js';
import { startGateway, TOKEN_ALL } from '../helpers/gateway.js';
import { startUpstream } from '../helpers/upstream.js';

async function until(what: string, cond: () => boolean | Promise<boolean>, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for: ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Bounds a wait the gateway might never end (without fairness it would not). */
function within<T>(ms: number, what: string, p: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms: ${what}`)), ms)));
  return Promise.race([p, late]).finally(() => clearTimeout(timer));
}

interface Trickle {
  req: ClientRequest;
  /** Settles with the status when an answer arrives (a trickle that is still sending has none). */
  answer: Promise<{ status: number; json: any }>;
  answered: () => boolean;
  stop: () => void;
}

/** A raw upload that announces 1 MB and sends one byte every 50 ms: it holds whatever slot it gets. */
function trickleUpload(base: string, ws: string, name: string): Trickle {
  const url = new URL(`${base}/v1/workspaces/${ws}/uploads/${name}`);
  const req = httpRequest({ host: url.hostname, port: url.port, method: 'PUT', path: url.pathname, headers: { authorization: `Bearer ${TOKEN_ALL}`, 'content-length': '1000000' } });
  let done = false;
  const timer = setInterval(() => req.write('x'), 50);
  const answer = new Promise<{ status: number; json: any }>((resolve, reject) => {
    req.once('error', (err) => (done ? undefined : reject(err)));
    req.once('response', (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.once('end', () => {
        done = true;
        clearInterval(timer);
        resolve({ status: res.statusCode ?? 0, json: JSON.parse(Buffer.concat(chunks).toString('utf8')) });
      });
    });
  });
  answer.catch(() => undefined);
  return {
    req,
    answer,
    answered: () => done,
    stop: () => {
      done = true;
      clearInterval(timer);
      req.destroy();
    },
  };
}

t.test('one workspace trickling at its share: another workspace still runs at once', async (t) => {
  // One token for both workspaces here: its share is the whole gate, so this test sees the workspace shares (token shares: token-fairness.test.ts).
  const gw = await startGateway({ limits: { transfers: 4, 'transfer-queue': 4, 'token-transfers': 4, 'token-transfer-queue': 4, 'workspace-transfers': 2, 'workspace-transfer-queue': 1 } });
  const up = await startUpstream();
  const trickles: Trickle[] = [];
  t.teardown(async () => {
    for (const tr of trickles) tr.stop();
    await gw.close();
    await up.stop();
  });
  // ws-1 takes its two slots with uploads that never finish...
  trickles.push(trickleUpload(gw.url, 'ws-1', 'slow-1.bin'), trickleUpload(gw.url, 'ws-1', 'slow-2.bin'));
  await until('two ws-1 uploads are writing', async () => (await gw.residue()).tmp.filter((f) => f.endsWith('.data')).length === 2);
  // ...one more waits (its workspace's queue share), and the next is refused, though the gate has room.
  trickles.push(trickleUpload(gw.url, 'ws-1', 'slow-3.bin'), trickleUpload(gw.url, 'ws-1', 'slow-4.bin'));
  const refused = await within(5000, 'a refusal past the workspace share', Promise.race(trickles.slice(2).map((tr) => tr.answer)));
  t.equal(refused.status, 503);
  t.equal(refused.json.error.code, 'overloaded');
  t.match(refused.json.error.message, /ws-1/);
  t.equal(refused.json.error.details.workspace, 'ws-1');

  // ws-2's persists and an upload run at once beside them and succeed.
  const started = Date.now();
  const [a, b, upload] = await within(10_000, "ws-2's transfers", Promise.all([
    gw.step({ 'step-id': 'a', request: { url: `${up.url}/bytes/300000` }, persist: { type: 'blob' } }, 'ws-2'),
    gw.step({ 'step-id': 'b', request: { url: `${up.url}/bytes/300000` }, persist: { type: 'blob', tier: 'ephemeral' } }, 'ws-2'),
    fetch(`${gw.url}/v1/workspaces/ws-2/uploads/quick.txt`, { method: 'PUT', headers: { authorization: `Bearer ${TOKEN_ALL}` }, body: 'quick' }).then(async (r) => ({ status: r.status, json: (await r.json()) as any })),
  ]));
  t.equal(a.status, 200);
  t.equal(a.json['blob-ref'].size, 300000);
  t.equal(b.status, 200);
  t.equal(upload.status, 201);
  t.equal(upload.json['blob-ref'].size, 5);
  t.ok(Date.now() - started < 5000, `ws-2 did not wait for ws-1 (${Date.now() - started} ms)`);
  t.equal(trickles.filter((tr) => tr.answered()).length, 1, "ws-1's trickling uploads are still running (or waiting)");

  // When ws-1's uploads go away, nothing of them is left.
  for (const tr of trickles) tr.stop();
  await until('the trickles are cleaned up', async () => (await gw.residue()).tmp.length === 0);
  t.same((await gw.residue()).objects.filter((o) => o.includes('slow-')), []);
});

t.test('a freed slot goes to the workspaces in turn, not first come first served', async (t) => {
  const gate = new TransferGate({ transfers: 1, queue: 10, workspaceTransfers: 1, workspaceQueue: 10 });
  const order: string[] = [];
  let release!: () => void;
  const first = gate.run(new AbortController(), () => new Promise<void>((r) => (release = r)), 'a');
  const queued = [
    ['a', 'a2'],
    ['a', 'a3'],
    ['a', 'a4'],
    ['b', 'b1'],
    ['c', 'c1'],
  ].map(([ws, id]) => gate.run(new AbortController(), async () => void order.push(id!), ws));
  t.equal(gate.queued, 5);
  release();
  await Promise.all([first, ...queued]);
  t.same(order, ['a2', 'b1', 'c1', 'a3', 'a4'], 'round robin between a, b and c');
});

t.test('one workspace cannot fill the wait queue, nor run past its share while the gate has room', async (t) => {
  const gate = new TransferGate({ transfers: 4, queue: 4, workspaceTransfers: 2, workspaceQueue: 2 });
  const releases: Array<() => void> = [];
  const hold = (ws: string): Promise<void> => gate.run(new AbortController(), () => new Promise<void>((r) => releases.push(r)), ws);
  const running = [hold('a'), hold('a')];
  t.equal(gate.active, 2);
  const waiting = [hold('a'), hold('a')];
  t.equal(gate.active, 2, "a third transfer of 'a' waits although two slots are free");
  t.equal(gate.queued, 2);
  const refused = await hold('a').catch((e: unknown) => e);
  t.equal((refused as BlobgateError).code, 'overloaded');
  t.same((refused as BlobgateError).details, { 'retry-after-seconds': 1, workspace: 'a' });
  const other = [hold('b'), hold('b')];
  t.equal(gate.active, 4, "'b' starts at once in the free slots");
  const queuedB = hold('b');
  t.equal(gate.queued, 3, "'b' may still wait");
  for (const r of releases.splice(0)) r();
  await Promise.all([...running, ...other]);
  await until('the waiters ran', () => releases.length === 3);
  for (const r of releases.splice(0)) r();
  await Promise.all([...waiting, queuedB]);
  t.equal(gate.active, 0);
  t.equal(gate.queued, 0);
});

t.test('an aborted waiter leaves the queue at once and its place is free', async (t) => {
  const gate = new TransferGate({ transfers: 1, queue: 1, workspaceTransfers: 1, workspaceQueue: 1 });
  let release!: () => void;
  const running = gate.run(new AbortController(), () => new Promise<void>((r) => (release = r)), 'a');
  const c = new AbortController();
  const waiting = gate.run(c, async () => 'never', 'b').catch((e: unknown) => e);
  c.abort(new BlobgateError('aborted', 'client left'));
  t.equal(((await waiting) as BlobgateError).code, 'aborted');
  t.equal(gate.queued, 0);
  const next = gate.run(new AbortController(), async () => 'ran', 'b');
  release();
  await running;
  t.equal(await next, 'ran');
});
