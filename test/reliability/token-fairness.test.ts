import t from 'tap';
import { BlobgateError } from '../../src/errors.js';
import { TransferGate } from '../../src/http/transfer-gate.js';
import { startGateway } from '../helpers/gateway.js';
import { startUpstream } from '../helpers/upstream.js';
import { until } from '../helpers/until.js';

const A = 'tenant-a-token-0000000000';
const B = 'tenant-b-token-0000000000';

t.test('one token with four workspaces fills what it can; another token still runs at once (default limits)', async (t) => {
  const gw = await startGateway({ tokens: [{ token: A, workspaces: ['a1', 'a2', 'a3', 'a4'] }, { token: B, workspaces: ['b'] }] });
  const up = await startUpstream();
  const leave = new AbortController();
  const post = (token: string, ws: string, url: string, signal?: AbortSignal): Promise<Response> =>
    fetch(`${gw.url}/v1/workspaces/${ws}/http`, {
      method: 'POST',
      ...(signal ? { signal } : {}),
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ 'flow-slug': 'f', 'step-id': 's', request: { url } }),
    });
  const held: Array<Promise<number>> = [];
  const answered: number[] = [];
  t.teardown(async () => {
    leave.abort();
    await Promise.allSettled(held);
    await gw.close();
    await up.stop();
  });
  // 4 workspaces × (4 running + 16 waiting): each workspace's share, 80 in all, to an upstream that never answers.
  for (const ws of ['a1', 'a2', 'a3', 'a4']) for (let i = 0; i < 20; i++) held.push(post(A, ws, `${up.url}/hang`, leave.signal).then((r) => answered.push(r.status), () => 0));
  const gauge = async (name: string): Promise<number> => Number(new RegExp(`^${name} (\\d+)$`, 'm').exec(await (await fetch(`${gw.url}/metrics`)).text())?.[1] ?? -1);
  await until("each of A's 80 steps runs, waits or was refused", async () => (await gauge('blobgate_transfers_in_flight')) + (await gauge('blobgate_transfer_queue_length')) + answered.length === 80, 20_000);
  t.equal(await gauge('blobgate_transfers_in_flight'), 12, 'the token runs all slots but a workspace share (limits.token-transfers: 16 - 4)');
  t.same(answered, Array(20).fill(503), 'the 20 past its share are refused');
  t.equal(await gauge('blobgate_transfer_queue_length'), 48, 'and waits in all places but a workspace share (limits.token-transfer-queue: 64 - 16)');

  const started = Date.now();
  const res = await post(B, 'b', `${up.url}/json`);
  const body = (await res.json()) as { error?: { code: string } };
  t.equal(res.status, 200, `tenant B's step ran (${JSON.stringify(body).slice(0, 200)})`);
  t.ok(Date.now() - started < 5000, `B did not wait for A (${Date.now() - started} ms)`);
  t.equal(await gauge('blobgate_transfers_in_flight'), 12, "A's transfers still hold their slots");
  t.same(answered.length, 20, 'none of A\'s running or waiting transfers was answered');
});

t.test("past a full queue, a token with nothing running or waiting is queued, and the next freed slot is its", async (t) => {
  const gate = new TransferGate({ transfers: 2, queue: 2, tenantTransfers: 2, tenantQueue: 2 });
  const releases: Array<() => void> = [];
  const hold = (tenant: string, id: string, order: string[]): Promise<void> =>
    gate.run(new AbortController(), () => new Promise<void>((r) => (order.push(id), releases.push(r))), { tenant, workspace: `${tenant}-ws` });
  const order: string[] = [];
  const a = [hold('a', 'a1', order), hold('a', 'a2', order), hold('a', 'a3', order), hold('a', 'a4', order)];
  t.equal(gate.active, 2);
  t.equal(gate.queued, 2, 'a fills every slot and every place');
  const refused = await hold('a', 'a5', order).catch((e: unknown) => e);
  t.equal((refused as BlobgateError).code, 'overloaded', 'a itself is refused past the full queue');
  const b = hold('b', 'b1', order);
  t.equal(gate.queued, 3, 'b, a newcomer, is queued past the full queue');
  const refusedB = await hold('b', 'b2', order).catch((e: unknown) => e);
  t.equal((refusedB as BlobgateError).code, 'overloaded', 'once waiting, b is no newcomer');
  releases.shift()!();
  await until('a slot was handed on', () => order.length === 3);
  t.same(order, ['a1', 'a2', 'b1'], "the freed slot goes to b, who runs fewer than a, ahead of a's earlier waiters");
  while (order.length < 5 || releases.length > 0) {
    releases.shift()?.();
    await new Promise((r) => setImmediate(r));
  }
  await Promise.all([...a, b]);
  t.equal(gate.active, 0);
  t.equal(gate.queued, 0);
});

t.test("a token's share counts over all its workspaces; each refusal names the share that is full", async (t) => {
  const gate = new TransferGate({ transfers: 8, queue: 8, tenantTransfers: 3, tenantQueue: 1, workspaceTransfers: 2, workspaceQueue: 8 });
  const releases: Array<() => void> = [];
  const hold = (tenant: string, workspace: string): Promise<void> => gate.run(new AbortController(), () => new Promise<void>((r) => releases.push(r)), { tenant, workspace });
  const running = [hold('a', 'x'), hold('a', 'y'), hold('a', 'z')];
  t.equal(gate.active, 3);
  const waiting = hold('a', 'w');
  t.equal(gate.active, 3, "a fourth of a's workspaces waits: the token is at its share though the gate has room");
  const refused = (await hold('a', 'v').catch((e: unknown) => e)) as BlobgateError;
  t.equal(refused.code, 'overloaded');
  t.match(refused.message, /limits\.token-transfers/);
  t.notOk(refused.message.includes('tenant-'), 'the message names no token');
  const other = hold('b', 'x');
  t.equal(gate.active, 4, 'another token runs at once');
  for (const r of releases.splice(0)) r();
  await Promise.all([...running, other]);
  await until('the waiter ran', () => releases.length === 1);
  releases.shift()!();
  await waiting;
});
