import { connect } from 'node:net';
import t from 'tap';
import { startGateway, TOKEN_ALL } from '../helpers/gateway.js';
import { startUpstream } from '../helpers/upstream.js';

/**
 * Issue 13 item 1: a raw upload that waits in the transfer queue, whose client
 * leaves before its body is complete, used to kill the process with an
 * unhandled 'error' on the pass-through the request is piped into.
 */
const gw = await startGateway({ limits: { transfers: 1, 'transfer-queue': 4 } });
const up = await startUpstream();
t.teardown(async () => {
  await gw.close();
  await up.stop();
});

const { port } = new URL(gw.url);

async function until(what: string, cond: () => boolean | Promise<boolean>): Promise<void> {
  for (let i = 0; i < 250; i++) {
    if (await cond()) return;
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error(`timed out waiting for ${what}`);
}

/** Sends raw bytes on a fresh socket; resolves with everything the gateway answered once the socket closes. */
function rawExchange(head: string, body: Buffer, closeAfterSend: boolean): { done: Promise<string>; socket: ReturnType<typeof connect> } {
  const socket = connect(Number(port), '127.0.0.1');
  const chunks: Buffer[] = [];
  const done = new Promise<string>((resolve) => {
    socket.on('data', (c: Buffer) => chunks.push(c));
    socket.on('error', () => undefined);
    socket.on('close', () => resolve(Buffer.concat(chunks).toString('latin1')));
  });
  socket.write(head);
  socket.write(body, () => {
    if (closeAfterSend) socket.destroy();
  });
  return { done, socket };
}

t.test('a queued raw upload whose client leaves mid-body does not crash the gateway', async (t) => {
  // Hold the only transfer slot with a step whose upstream stalls.
  const held = fetch(`${gw.url}/v1/workspaces/ws-1/http`, {
    method: 'POST',
    headers: { authorization: `Bearer ${TOKEN_ALL}`, 'content-type': 'application/json' },
    body: JSON.stringify({ 'flow-slug': 'f', 'step-id': 's', request: { url: `${up.url}/bytes/10000000?stall-after=65536`, timeout: 60 }, persist: { type: 'blob', tier: 'ephemeral' } }),
  }).then((r) => r.status, () => 0);
  await until('the slot-holding step to reach the upstream', () => up.requests.length === 1);

  // A PUT that announces 10 bytes, sends one, and leaves while it waits for a slot.
  const head = `PUT /v1/workspaces/ws-1/uploads/one.bin HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${TOKEN_ALL}\r\nContent-Type: application/octet-stream\r\nContent-Length: 10\r\n\r\n`;
  const { socket } = rawExchange(head, Buffer.from('x'), false);
  await until('the upload to be queued', async () => (await (await fetch(`${gw.url}/metrics`)).text()).includes('blobgate_transfer_queue_length 1'));
  socket.destroy();

  // The gateway is still here, answers, and still counts the queue down.
  await until('the queue to empty', async () => (await (await fetch(`${gw.url}/metrics`)).text()).includes('blobgate_transfer_queue_length 0'));
  t.equal((await fetch(`${gw.url}/healthz`)).status, 200, 'the gateway still answers');
  await up.stop(); // releases the slot holder
  t.not(await held, 200, 'the slot holder ended');
  const res = await fetch(`${gw.url}/v1/workspaces/ws-1/uploads/after.bin`, { method: 'PUT', headers: { authorization: `Bearer ${TOKEN_ALL}` }, body: 'still here' });
  t.equal(res.status, 201, 'a later upload is stored');
  t.same((await gw.residue()).tmp, [], 'no temp file left');
});
