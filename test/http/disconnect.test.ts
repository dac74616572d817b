import { request } from 'node:http';
import t from 'tap';
import { startGateway, TOKEN_ALL } from '../helpers/gateway.js';
import { startUpstream } from '../helpers/upstream.js';

const gw = await startGateway();
const up = await startUpstream();
t.teardown(async () => {
  await gw.close();
  await up.stop();
});

t.test('a client that disconnects mid-transfer aborts the upstream and leaves nothing behind', async (t) => {
  // The upstream sends 1 MiB, then stalls: the transfer is certainly in flight when the client leaves.
  const body = JSON.stringify({
    'flow-slug': 'f',
    'step-id': 's',
    request: { url: `${up.url}/bytes/50000000?stall-after=1048576`, timeout: 60 },
    persist: { type: 'blob', tier: 'ephemeral' },
  });
  const { port } = new URL(gw.url);
  const req = request({ host: '127.0.0.1', port, method: 'POST', path: '/v1/workspaces/ws-1/http', headers: { authorization: `Bearer ${TOKEN_ALL}`, 'content-type': 'application/json' } });
  req.on('error', () => undefined);
  req.end(body);
  // Wait until the upstream is serving, and the gateway has written to its temp file.
  for (let i = 0; i < 100 && up.requests.length === 0; i++) await new Promise((r) => setTimeout(r, 20));
  t.equal(up.requests.length, 1, 'the upstream request started');
  let tmp: string[] = [];
  for (let i = 0; i < 100 && tmp.length === 0; i++) {
    await new Promise((r) => setTimeout(r, 20));
    tmp = (await gw.residue()).tmp;
  }
  t.equal(tmp.length, 1, 'a temp file was being written');
  req.destroy();
  const closed = await up.closed[0];
  t.ok(closed?.aborted, 'the upstream response was cut off, not finished');
  let residue = await gw.residue();
  for (let i = 0; i < 100 && residue.tmp.length > 0; i++) {
    await new Promise((r) => setTimeout(r, 20));
    residue = await gw.residue();
  }
  t.same(residue, { tmp: [], objects: [] }, 'no object, no temp file');
  t.equal(up.openSockets(), 0, 'no socket left open to the upstream');
});
