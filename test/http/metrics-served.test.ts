// blobgate_served_bytes_total counts the bytes of stored objects sent to
// clients, by content reads and signed URLs alike, a range as its length.
import t from 'tap';
import { startGateway } from '../helpers/gateway.js';
import { startUpstream } from '../helpers/upstream.js';

const up = await startUpstream();
const gw = await startGateway();
t.teardown(async () => {
  await gw.close();
  await up.stop();
});

async function served(): Promise<number> {
  const text = await (await fetch(`${gw.url}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith('blobgate_served_bytes_total{') && l.includes('store="retained"'));
  return line ? Number(line.split(' ').at(-1)) : 0;
}

t.test('content reads, ranged reads and signed URLs count what they sent', async (t) => {
  const ref = await gw.step({ request: { url: `${up.url}/bytes/300000` }, persist: { type: 'blob' } });
  t.equal(ref.status, 200);
  const uri = encodeURIComponent(ref.json.uri as string);
  const start = await served();
  const whole = await fetch(`${gw.url}/v1/resources/content?uri=${uri}`, { headers: { authorization: 'Bearer test-token-ws1-ws2-000000' } });
  t.equal((await whole.arrayBuffer()).byteLength, 300000);
  t.equal((await served()) - start, 300000, 'a whole read');
  const part = await fetch(`${gw.url}/v1/resources/content?uri=${uri}`, { headers: { authorization: 'Bearer test-token-ws1-ws2-000000', range: 'bytes=1000-1999' } });
  t.equal(part.status, 206);
  await part.arrayBuffer();
  t.equal((await served()) - start, 301000, 'a range counts its length');
  const signed = await gw.call('POST', '/v1/resources/url', { uri: ref.json.uri });
  const viaUrl = await fetch(signed.json.url as string);
  t.equal((await viaUrl.arrayBuffer()).byteLength, 300000);
  t.equal((await served()) - start, 601000, 'a signed read');
});
