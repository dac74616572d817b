import t from 'tap';
import { startGateway, TOKEN_ALL } from '../helpers/gateway.js';
import { startUpstream } from '../helpers/upstream.js';

// A failed transfer is counted against the store it was writing to (it was counted with store="").

const up = await startUpstream();
const gw = await startGateway({ tiers: { retained: { 'cap-bytes': 1000 } } });
t.teardown(async () => {
  await gw.close();
  await up.stop();
});

async function transfers(): Promise<string[]> {
  const res = await fetch(`${gw.url}/metrics`, { headers: { authorization: `Bearer ${TOKEN_ALL}` } });
  return (await res.text()).split('\n').filter((l) => l.startsWith('blobgate_transfers_total{'));
}

t.test('a step cut off mid-body names the ephemeral store', async (t) => {
  const res = await gw.step({ request: { url: `${up.url}/bytes/200000?drop-after=50000` }, persist: { type: 'blob', tier: 'ephemeral' } });
  t.equal(res.status, 502);
  const line = (await transfers()).find((l) => l.includes('kind="step"') && !l.includes('outcome="ok"'));
  t.match(line, /store="ephemeral"/, line ?? "no such line");
});

t.test('an upload over the cap names the retained store', async (t) => {
  const res = await fetch(`${gw.url}/v1/workspaces/ws-1/uploads/big.bin`, { method: 'PUT', headers: { authorization: `Bearer ${TOKEN_ALL}` }, body: new Uint8Array(5000), duplex: 'half' } as RequestInit);
  t.equal(res.status, 413);
  const line = (await transfers()).find((l) => l.includes('kind="upload"') && l.includes('outcome="cap_exceeded"'));
  t.match(line, /store="retained"/, line ?? "no such line");
});

t.test('a step refused before any store was chosen has no store', async (t) => {
  const res = await gw.step({ request: { url: `${up.url}/status/500` }, persist: { type: 'blob' } });
  t.equal(res.status, 502);
  const line = (await transfers()).find((l) => l.includes('kind="step"') && l.includes('outcome="upstream_status"'));
  t.match(line, /store=""/, line ?? "no such line");
});
